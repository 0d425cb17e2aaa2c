import { keys } from '../cache/keys.js';
import { checkId } from '../transport/ids.js';
import type { Base, BaseList } from '../types/index.js';
import {
  type CallOptions,
  compact,
  iteratePages,
  MAX_PER_PAGE,
  Service,
  type WriteOptions,
} from './base.js';
import type { PageQuery } from './workspaces.js';

/** `/bases`: the bases of a workspace. */
export class BaseService extends Service {
  readonly name = 'base';

  async getBases(
    workspaceId: string,
    query: PageQuery = {},
    options: CallOptions = {},
  ): Promise<BaseList> {
    checkId('wsp', workspaceId, 'workspaceId');
    const params = {
      workspace_id: workspaceId,
      ...compact({ page: query.page, per_page: query.perPage }),
    };
    return this.ctx.reads.read(
      keys.bases(workspaceId, params),
      () =>
        this.body(
          this.ctx.api.GET('/bases', { params: { query: params }, ...this.via(options) }),
          'list',
        ),
      'schema',
    );
  }

  iterBases(workspaceId: string, options: CallOptions = {}): AsyncGenerator<Base> {
    return iteratePages((page) =>
      this.getBases(workspaceId, { page, perPage: MAX_PER_PAGE }, options),
    );
  }

  async getBase(baseId: string, options: CallOptions = {}): Promise<Base> {
    const base_id = checkId('bas', baseId, 'baseId');
    return this.ctx.reads.read(
      keys.base(baseId),
      () =>
        this.body(
          this.ctx.api.GET('/bases/{base_id}', {
            params: { path: { base_id } },
            ...this.via(options),
          }),
        ),
      'schema',
    );
  }

  async createBase(
    body: { workspaceId: string; name: string; description?: string },
    options: WriteOptions = {},
  ): Promise<Base> {
    checkId('wsp', body.workspaceId, 'workspaceId');
    const base = await this.body(
      this.ctx.api.POST('/bases', {
        body: compact({
          workspace_id: body.workspaceId,
          name: body.name,
          description: body.description,
        }),
        ...this.via(options),
      }),
    );
    this.ctx.changed({ kind: 'invalidate', keys: [keys.bases(body.workspaceId)] });
    return base;
  }

  async updateBase(
    baseId: string,
    body: { name?: string; description?: string },
    options: WriteOptions = {},
  ): Promise<Base> {
    const base_id = checkId('bas', baseId, 'baseId');
    const base = await this.body(
      this.ctx.api.PUT('/bases/{base_id}', {
        params: { path: { base_id } },
        body: compact(body),
        ...this.via(options),
      }),
    );
    this.ctx.changed({
      kind: 'invalidate',
      keys: [keys.bases(base.workspace_id), keys.base(baseId)],
    });
    return base;
  }

  async deleteBase(baseId: string, options: WriteOptions = {}): Promise<void> {
    const base_id = checkId('bas', baseId, 'baseId');
    await this.empty(
      this.ctx.api.DELETE('/bases/{base_id}', {
        params: { path: { base_id } },
        ...this.via(options),
      }),
    );
    this.ctx.changed({ kind: 'invalidate', keys: [[...keys.all(), 'bases'], keys.base(baseId)] });
  }
}
