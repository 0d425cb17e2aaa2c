/**
 * Query keys: one factory per resource, every key under `['pyat', ...]`. Lists carry their query
 * as a plain object, so TanStack's hashing orders it; prefixes invalidate a whole family
 * (`keys.records(tableId)` covers every cached list of that table).
 */
export const ROOT = 'pyat';

export interface RecordListQuery {
  tableId: string;
  viewId?: string;
  fields?: string[];
  sort?: { field: string; direction?: 'asc' | 'desc' }[];
  filter?: unknown;
  pageSize?: number;
  offset?: string;
}

export const keys = {
  all: () => [ROOT] as const,
  profile: () => [ROOT, 'profile'] as const,
  users: (query?: object) =>
    query ? ([ROOT, 'users', query] as const) : ([ROOT, 'users'] as const),
  user: (id: string) => [ROOT, 'user', id] as const,
  workspaces: (query?: object) =>
    query ? ([ROOT, 'workspaces', query] as const) : ([ROOT, 'workspaces'] as const),
  workspace: (id: string) => [ROOT, 'workspace', id] as const,
  members: (workspaceId: string) => [ROOT, 'members', workspaceId] as const,
  permissions: (workspaceId: string) => [ROOT, 'permissions', workspaceId] as const,
  bases: (workspaceId: string, query?: object) =>
    query
      ? ([ROOT, 'bases', workspaceId, query] as const)
      : ([ROOT, 'bases', workspaceId] as const),
  base: (id: string) => [ROOT, 'base', id] as const,
  tables: (baseId: string, query?: object) =>
    query ? ([ROOT, 'tables', baseId, query] as const) : ([ROOT, 'tables', baseId] as const),
  table: (id: string) => [ROOT, 'table', id] as const,
  fields: (tableId: string, query?: object) =>
    query ? ([ROOT, 'fields', tableId, query] as const) : ([ROOT, 'fields', tableId] as const),
  field: (id: string) => [ROOT, 'field', id] as const,
  views: (tableId: string, query?: object) =>
    query ? ([ROOT, 'views', tableId, query] as const) : ([ROOT, 'views', tableId] as const),
  view: (id: string) => [ROOT, 'view', id] as const,
  records: (tableId: string, query?: Omit<RecordListQuery, 'tableId'>) =>
    query ? ([ROOT, 'records', tableId, query] as const) : ([ROOT, 'records', tableId] as const),
  record: (id: string) => [ROOT, 'record', id] as const,
  file: (id: string) => [ROOT, 'file', id] as const,
  webhooks: (workspaceId: string, query?: object) =>
    query
      ? ([ROOT, 'webhooks', workspaceId, query] as const)
      : ([ROOT, 'webhooks', workspaceId] as const),
  webhook: (id: string) => [ROOT, 'webhook', id] as const,
} as const;
