import { keys } from '../cache/keys.js';
import type { TokenPair, TokenValidation, User } from '../types/index.js';
import { type CallOptions, compact, Service } from './base.js';

/** `/auth`: registration, tokens, the signed-in account, token checks and permissions. */
export class AuthService extends Service {
  readonly name = 'auth';

  /** Creates an account (201). @throws ConflictError the email is taken. */
  async register(
    body: { email: string; password: string; firstName: string; lastName: string },
    options: CallOptions = {},
  ): Promise<User> {
    return this.body(
      this.ctx.api.POST('/auth/register', {
        body: {
          email: body.email,
          password: body.password,
          first_name: body.firstName,
          last_name: body.lastName,
        },
        ...this.via({ ...options, authenticated: false }),
      }),
    );
  }

  /** Exchanges email and password for a token pair (the auth layer keeps it). */
  async login(email: string, password: string, options: CallOptions = {}): Promise<TokenPair> {
    return this.body(
      this.ctx.api.POST('/auth/login', {
        body: { email, password },
        ...this.via({ ...options, authenticated: false }),
      }),
    );
  }

  /** A new pair for a refresh token (single use; the auth layer calls it once at a time). */
  async refresh(refreshToken: string, options: CallOptions = {}): Promise<TokenPair> {
    return this.body(
      this.ctx.api.POST('/auth/refresh', {
        body: { refresh_token: refreshToken },
        ...this.via({ ...options, authenticated: false, deadline: options.deadline ?? 30_000 }),
      }),
    );
  }

  /** Ends the session of `refreshToken` on the backend. */
  async logout(refreshToken: string, options: CallOptions = {}): Promise<void> {
    return this.empty(
      this.ctx.api.POST('/auth/logout', {
        body: { refresh_token: refreshToken },
        ...this.via({ ...options, authenticated: false }),
      }),
    );
  }

  async getMe(options: CallOptions = {}): Promise<User> {
    return this.ctx.reads.read(
      [...keys.profile(), 'auth'],
      () => this.body(this.ctx.api.GET('/auth/me', this.via(options))),
      'profile',
    );
  }

  async updateMe(
    body: { firstName?: string; lastName?: string },
    options: CallOptions = {},
  ): Promise<User> {
    const user = await this.body(
      this.ctx.api.PUT('/auth/me', {
        body: compact({ first_name: body.firstName, last_name: body.lastName }),
        ...this.via(options),
      }),
    );
    this.ctx.changed({ kind: 'invalidate', keys: [keys.profile()] });
    return user;
  }

  /** Replaces the password and revokes every other session. @throws InvalidRequestError wrong password. */
  async changePassword(
    currentPassword: string,
    newPassword: string,
    options: CallOptions = {},
  ): Promise<void> {
    return this.empty(
      this.ctx.api.POST('/auth/change-password', {
        body: { current_password: currentPassword, new_password: newPassword },
        ...this.via(options),
      }),
    );
  }

  /** Whether a token is valid and live, with its claims. */
  async validateToken(token: string, options: CallOptions = {}): Promise<TokenValidation> {
    return this.body(
      this.ctx.api.POST('/auth/validate', {
        body: { token },
        ...this.via({ ...options, authenticated: false }),
      }),
    );
  }

  /** The caller's role and permissions in a workspace. @throws NotFoundError not a member. */
  async getPermissions(workspaceId: string, options: CallOptions = {}) {
    return this.body(
      this.ctx.api.GET('/auth/permissions', {
        params: { query: { resource_type: 'workspace', resource_id: workspaceId } },
        ...this.via(options),
      }),
    );
  }
}
