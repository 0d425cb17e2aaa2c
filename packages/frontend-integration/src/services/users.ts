import { keys } from '../cache/keys.js';
import { checkId } from '../transport/ids.js';
import type { User, UserList, UserProfile } from '../types/index.js';
import { type CallOptions, compact, iteratePages, MAX_PER_PAGE, Service } from './base.js';

export interface UserQuery {
  page?: number;
  perPage?: number;
  search?: string;
}

/** `/users`: the signed-in user's profile and the people who share a workspace with them. */
export class UserService extends Service {
  readonly name = 'user';

  async getCurrentUser(options: CallOptions = {}): Promise<UserProfile> {
    return this.ctx.reads.read(
      keys.profile(),
      () => this.body(this.ctx.api.GET('/users/me', this.via(options))),
      'profile',
    );
  }

  async updateCurrentUser(
    body: {
      firstName?: string;
      lastName?: string;
      preferences?: { [key: string]: unknown };
      settings?: { [key: string]: unknown };
    },
    options: CallOptions = {},
  ): Promise<UserProfile> {
    const profile = await this.body(
      this.ctx.api.PUT('/users/me', {
        body: compact({
          first_name: body.firstName,
          last_name: body.lastName,
          preferences: body.preferences,
          settings: body.settings,
        }),
        ...this.via(options),
      }),
    );
    this.ctx.changed({ kind: 'invalidate', keys: [keys.profile()] });
    return profile;
  }

  async getUsers(query: UserQuery = {}, options: CallOptions = {}): Promise<UserList> {
    const params = compact({ page: query.page, per_page: query.perPage, search: query.search });
    return this.ctx.reads.read(
      keys.users(params),
      () =>
        this.body(
          this.ctx.api.GET('/users', { params: { query: params }, ...this.via(options) }),
          'list',
        ),
      'default',
    );
  }

  iterUsers(query: Omit<UserQuery, 'page'> = {}, options: CallOptions = {}): AsyncGenerator<User> {
    return iteratePages((page) =>
      this.getUsers({ perPage: MAX_PER_PAGE, ...query, page }, options),
    );
  }

  async getUser(userId: string, options: CallOptions = {}): Promise<User> {
    const user_id = checkId('usr', userId, 'userId');
    return this.ctx.reads.read(
      keys.user(userId),
      () =>
        this.body(
          this.ctx.api.GET('/users/{user_id}', {
            params: { path: { user_id } },
            ...this.via(options),
          }),
        ),
      'default',
    );
  }
}
