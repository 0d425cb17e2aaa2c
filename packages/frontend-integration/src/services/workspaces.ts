import { keys } from '../cache/keys.js';
import { checkId } from '../transport/ids.js';
import type {
  AuditEntry,
  AuditLog,
  Workspace,
  WorkspaceList,
  WorkspaceMember,
} from '../types/index.js';
import {
  type CallOptions,
  compact,
  iteratePages,
  MAX_PER_PAGE,
  Service,
  type WriteOptions,
} from './base.js';

export type Role = 'owner' | 'admin' | 'editor' | 'viewer';
export interface PageQuery {
  page?: number;
  perPage?: number;
}

/** `/workspaces`: workspaces, their members and roles, and their audit log. */
export class WorkspaceService extends Service {
  readonly name = 'workspace';

  async getWorkspaces(query: PageQuery = {}, options: CallOptions = {}): Promise<WorkspaceList> {
    const params = compact({ page: query.page, per_page: query.perPage });
    return this.ctx.reads.read(
      keys.workspaces(params),
      () =>
        this.body(
          this.ctx.api.GET('/workspaces', { params: { query: params }, ...this.via(options) }),
          'list',
        ),
      'workspaces',
    );
  }

  iterWorkspaces(options: CallOptions = {}): AsyncGenerator<Workspace> {
    return iteratePages((page) => this.getWorkspaces({ page, perPage: MAX_PER_PAGE }, options));
  }

  async getWorkspace(workspaceId: string, options: CallOptions = {}): Promise<Workspace> {
    const workspace_id = checkId('wsp', workspaceId, 'workspaceId');
    return this.ctx.reads.read(
      keys.workspace(workspaceId),
      () =>
        this.body(
          this.ctx.api.GET('/workspaces/{workspace_id}', {
            params: { path: { workspace_id } },
            ...this.via(options),
          }),
        ),
      'workspaces',
    );
  }

  async createWorkspace(
    body: { name: string; description?: string },
    options: WriteOptions = {},
  ): Promise<Workspace> {
    const workspace = await this.body(
      this.ctx.api.POST('/workspaces', { body: compact(body), ...this.via(options) }),
    );
    this.ctx.changed({ kind: 'invalidate', keys: [keys.workspaces()] });
    return workspace;
  }

  async updateWorkspace(
    workspaceId: string,
    body: { name?: string; description?: string },
    options: WriteOptions = {},
  ): Promise<Workspace> {
    const workspace_id = checkId('wsp', workspaceId, 'workspaceId');
    const workspace = await this.body(
      this.ctx.api.PUT('/workspaces/{workspace_id}', {
        params: { path: { workspace_id } },
        body: compact(body),
        ...this.via(options),
      }),
    );
    this.ctx.changed({
      kind: 'invalidate',
      keys: [keys.workspaces(), keys.workspace(workspaceId)],
    });
    return workspace;
  }

  async deleteWorkspace(workspaceId: string, options: WriteOptions = {}): Promise<void> {
    const workspace_id = checkId('wsp', workspaceId, 'workspaceId');
    await this.empty(
      this.ctx.api.DELETE('/workspaces/{workspace_id}', {
        params: { path: { workspace_id } },
        ...this.via(options),
      }),
    );
    this.ctx.changed({
      kind: 'invalidate',
      keys: [keys.workspaces(), keys.workspace(workspaceId)],
    });
  }

  async getWorkspaceMembers(
    workspaceId: string,
    options: CallOptions = {},
  ): Promise<WorkspaceMember[]> {
    const workspace_id = checkId('wsp', workspaceId, 'workspaceId');
    return this.ctx.reads.read(
      keys.members(workspaceId),
      () =>
        this.body(
          this.ctx.api.GET('/workspaces/{workspace_id}/members', {
            params: { path: { workspace_id } },
            ...this.via(options),
          }),
          'array',
        ),
      'workspaces',
    );
  }

  /** Adds a member by `userId` or `email` (exactly one). */
  async addWorkspaceMember(
    workspaceId: string,
    body: { userId?: string; email?: string; role: Role },
    options: WriteOptions = {},
  ): Promise<WorkspaceMember> {
    const workspace_id = checkId('wsp', workspaceId, 'workspaceId');
    const member = await this.body(
      this.ctx.api.POST('/workspaces/{workspace_id}/members', {
        params: { path: { workspace_id } },
        body: compact({ user_id: body.userId, email: body.email, role: body.role }),
        ...this.via(options),
      }),
    );
    this.ctx.changed({ kind: 'invalidate', keys: [keys.members(workspaceId)] });
    return member;
  }

  async updateWorkspaceMember(
    workspaceId: string,
    userId: string,
    role: Role,
    options: WriteOptions = {},
  ): Promise<WorkspaceMember> {
    const path = {
      workspace_id: checkId('wsp', workspaceId, 'workspaceId'),
      user_id: checkId('usr', userId, 'userId'),
    };
    const member = await this.body(
      this.ctx.api.PATCH('/workspaces/{workspace_id}/members/{user_id}', {
        params: { path },
        body: { role },
        ...this.via(options),
      }),
    );
    this.ctx.changed({
      kind: 'invalidate',
      keys: [keys.members(workspaceId), keys.permissions(workspaceId)],
    });
    return member;
  }

  async removeWorkspaceMember(
    workspaceId: string,
    userId: string,
    options: WriteOptions = {},
  ): Promise<void> {
    const path = {
      workspace_id: checkId('wsp', workspaceId, 'workspaceId'),
      user_id: checkId('usr', userId, 'userId'),
    };
    await this.empty(
      this.ctx.api.DELETE('/workspaces/{workspace_id}/members/{user_id}', {
        params: { path },
        ...this.via(options),
      }),
    );
    this.ctx.changed({
      kind: 'invalidate',
      keys: [keys.members(workspaceId), keys.permissions(workspaceId)],
    });
  }

  /** One page of the audit log, newest first (owners and admins). */
  async getAuditLog(
    workspaceId: string,
    query: PageQuery = {},
    options: CallOptions = {},
  ): Promise<AuditLog> {
    const workspace_id = checkId('wsp', workspaceId, 'workspaceId');
    return this.body(
      this.ctx.api.GET('/workspaces/{workspace_id}/audit-log', {
        params: {
          path: { workspace_id },
          query: compact({ page: query.page, per_page: query.perPage }),
        },
        ...this.via(options),
      }),
      'list',
    );
  }

  iterAuditLog(workspaceId: string, options: CallOptions = {}): AsyncGenerator<AuditEntry> {
    return iteratePages((page) =>
      this.getAuditLog(workspaceId, { page, perPage: MAX_PER_PAGE }, options),
    );
  }
}
