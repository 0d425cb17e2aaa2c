/**
 * Query options for TanStack observers (React's `useQuery`, a Server Component's prefetch): the
 * key, the fetch and the freshness of a service read, taken from the service itself.
 *
 * A service read goes through the integration's read-through (`CacheSync.read`, which stores the
 * answer under the service's key). An observer of that key cannot use it as its `queryFn`: the
 * read would wait on the observer's own fetch. So each integration gets a second set of services
 * whose read-through only *settles* the answer (`CacheSync.settled`: buffered events applied,
 * version guard) and lets TanStack store it. The key is learned by calling the service with a
 * read-through that records it: every read method calls `reads.read` before its first `await`,
 * so the key is known synchronously, during render, and is the very key events patch.
 */
import type { QueryFunctionContext } from '@tanstack/query-core';
import createClient from 'openapi-fetch';
import { keys, type RecordListQuery } from '../cache/keys.js';
import type { PyAirtableIntegration } from '../integration.js';
import type { CallOptions, Lifetime, ReadThrough } from '../services/base.js';
import { createServices, type Services } from '../services/index.js';
import type { RecordQuery } from '../services/records.js';
import type { PageQuery } from '../services/workspaces.js';
import type {
  AirtableRecord,
  BaseList,
  Permissions,
  paths,
  RecordList,
  Table,
  TableList,
  WorkspaceList,
} from '../types/index.js';

/** What `useQuery`, `prefetchQuery` and `queryClient.query` take. */
export interface ServiceQueryOptions<T> {
  queryKey: readonly unknown[];
  queryFn: (context: QueryFunctionContext) => Promise<T>;
  staleTime: number;
}

/** What `useInfiniteQuery` and `prefetchInfiniteQuery` take, for cursor-paged records. */
export interface InfiniteRecordsOptions {
  queryKey: readonly unknown[];
  queryFn: (
    context: QueryFunctionContext<readonly unknown[], string | undefined>,
  ) => Promise<RecordList>;
  initialPageParam: string | undefined;
  getNextPageParam: (last: RecordList) => string | undefined;
  staleTime: number;
}

type Call<T> = (services: Services, options: CallOptions) => Promise<T>;

interface Recorded {
  key: readonly unknown[];
  lifetime: Lifetime;
}

/** The services an integration's observers fetch with, and the key recorder. */
class Bridge {
  readonly services: Services;
  private recording: Recorded[] | null = null;

  constructor(readonly pa: PyAirtableIntegration) {
    const reads: ReadThrough = {
      read: (key, fetch, lifetime) => {
        if (this.recording !== null) {
          this.recording.push({ key, lifetime });
          // Never settles and is never awaited: only the key was wanted.
          return new Promise(() => {});
        }
        return pa.cache === null ? fetch() : pa.cache.settled(key, fetch);
      },
    };
    this.services = createServices({
      transport: pa.transport,
      api: createClient<paths>({ baseUrl: pa.config.baseURL }),
      reads,
      changed: (change) => pa.cache?.applyLocal(change),
    });
  }

  /** The key and lifetime `call` reads under, or null when it fails before reading. */
  record<T>(call: Call<T>): Recorded | null {
    const recorded: Recorded[] = [];
    this.recording = recorded;
    try {
      // An invalid id rejects before reading; the observer's own fetch reports it.
      call(this.services, {}).catch(() => undefined);
    } finally {
      this.recording = null;
    }
    return recorded[0] ?? null;
  }
}

const bridges = new WeakMap<PyAirtableIntegration, Bridge>();

function bridge(pa: PyAirtableIntegration): Bridge {
  let found = bridges.get(pa);
  if (found === undefined) {
    found = new Bridge(pa);
    bridges.set(pa, found);
  }
  return found;
}

function staleTime(pa: PyAirtableIntegration, lifetime: Lifetime): number {
  return pa.cache?.staleTime(lifetime) ?? 0;
}

/**
 * Options observing what `call` reads, under the key the service caches it at.
 *
 * @param fallbackKey the key to use when `call` fails before reading (an invalid id): the
 *   observer then fetches, gets the validation error and shows it.
 */
export function serviceQuery<T>(
  pa: PyAirtableIntegration,
  call: Call<T>,
  fallbackKey: readonly unknown[],
): ServiceQueryOptions<T> {
  const b = bridge(pa);
  const recorded = b.record(call);
  return {
    queryKey: recorded?.key ?? fallbackKey,
    queryFn: ({ signal }) => call(b.services, { signal }),
    staleTime: staleTime(pa, recorded?.lifetime ?? 'default'),
  };
}

/** One page of a table's records (`services.record.getRecords`). */
export function recordsQuery(
  pa: PyAirtableIntegration,
  tableId: string,
  query: RecordQuery = {},
): ServiceQueryOptions<RecordList> {
  return serviceQuery(pa, (s, o) => s.record.getRecords(tableId, query, o), [
    ...keys.records(tableId),
    'invalid',
    query,
  ]);
}

/** One record. */
export function recordQuery(
  pa: PyAirtableIntegration,
  recordId: string,
): ServiceQueryOptions<AirtableRecord> {
  return serviceQuery(pa, (s, o) => s.record.getRecord(recordId, o), [
    ...keys.record(recordId),
    'invalid',
  ]);
}

/** The workspaces the user belongs to. */
export function workspacesQuery(
  pa: PyAirtableIntegration,
  query: PageQuery = {},
): ServiceQueryOptions<WorkspaceList> {
  return serviceQuery(pa, (s, o) => s.workspace.getWorkspaces(query, o), keys.workspaces(query));
}

/** The bases of a workspace. */
export function basesQuery(
  pa: PyAirtableIntegration,
  workspaceId: string,
  query: PageQuery = {},
): ServiceQueryOptions<BaseList> {
  return serviceQuery(pa, (s, o) => s.base.getBases(workspaceId, query, o), [
    ...keys.bases(workspaceId),
    'invalid',
  ]);
}

/** The tables of a base, each with its fields. */
export function tablesQuery(
  pa: PyAirtableIntegration,
  baseId: string,
  query: PageQuery = {},
): ServiceQueryOptions<TableList> {
  return serviceQuery(pa, (s, o) => s.table.getTables(baseId, query, o), [
    ...keys.tables(baseId),
    'invalid',
  ]);
}

/** One table with its fields (the schema the cache's filter matcher reads). */
export function tableQuery(pa: PyAirtableIntegration, tableId: string): ServiceQueryOptions<Table> {
  return serviceQuery(pa, (s, o) => s.table.getTable(tableId, o), [
    ...keys.table(tableId),
    'invalid',
  ]);
}

/** The user's role and permissions in a workspace (invalidated by membership events). */
export function permissionsQuery(
  pa: PyAirtableIntegration,
  workspaceId: string,
): ServiceQueryOptions<Permissions> {
  return {
    queryKey: keys.permissions(workspaceId),
    queryFn: () => pa.auth.permissions(workspaceId),
    staleTime: pa.config.permissionsTTL,
  };
}

/**
 * A table's records a cursor page at a time (`useInfiniteQuery`): each page fetched with the
 * previous page's `next_offset`, settled under its own key; events replace or remove records
 * on loaded pages, and a record that may enter the list refetches it.
 */
export function infiniteRecordsQuery(
  pa: PyAirtableIntegration,
  tableId: string,
  query: Omit<RecordQuery, 'offset'> = {},
): InfiniteRecordsOptions {
  const first = recordsQuery(pa, tableId, query);
  const b = bridge(pa);
  const base = first.queryKey;
  const options = (base[3] ?? {}) as Omit<RecordListQuery, 'tableId'>;
  return {
    // Under the table's records (so events reach it) with a marker that keeps it apart from
    // the first page's own query.
    queryKey: [...base.slice(0, 3), { ...options, pages: 'infinite' }],
    queryFn: ({ pageParam, signal }) =>
      b.services.record.getRecords(
        tableId,
        pageParam === undefined ? query : { ...query, offset: pageParam },
        { signal },
      ),
    initialPageParam: undefined,
    getNextPageParam: (last) => last.pagination.next_offset ?? undefined,
    staleTime: first.staleTime,
  };
}
