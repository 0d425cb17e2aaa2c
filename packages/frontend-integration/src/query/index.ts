// `@pyairtable/frontend-integration/query`: TanStack Query options for the integration's reads,
// for React hooks, other framework adapters and server-side prefetch.
export type { InfiniteRecordsOptions, ServiceQueryOptions } from './options.js';
export {
  basesQuery,
  infiniteRecordsQuery,
  permissionsQuery,
  recordQuery,
  recordsQuery,
  serviceQuery,
  tableQuery,
  tablesQuery,
  workspacesQuery,
} from './options.js';
