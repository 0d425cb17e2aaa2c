'use client';
/**
 * Data hooks: TanStack `useQuery` observers of the integration's reads, under the keys the
 * services cache them at, so every write through the integration and every realtime event
 * updates what they show (the cache sync patches those queries in place).
 */
import {
  hashKey,
  type InfiniteData,
  skipToken,
  type UseInfiniteQueryResult,
  type UseQueryResult,
  useInfiniteQuery,
  useQuery,
} from '@tanstack/react-query';
import { useEffect, useMemo, useReducer } from 'react';
import type { ServiceQueryOptions } from '../query/options.js';
import {
  basesQuery,
  infiniteRecordsQuery,
  recordQuery,
  recordsQuery,
  tableQuery,
  tablesQuery,
  workspacesQuery,
} from '../query/options.js';
import type { RecordQuery } from '../services/records.js';
import type { PageQuery } from '../services/workspaces.js';
import type {
  AirtableRecord,
  BaseList,
  RecordList,
  Table,
  TableList,
  WorkspaceList,
} from '../types/index.js';
import { usePyAirtable } from './context.js';

/** Options every data hook takes. */
export interface DataHookOptions {
  /** Fetch only while true (an id that is not chosen yet can also be passed as null). */
  enabled?: boolean;
  /** Throw errors to the nearest error boundary (`PyAirtableErrorBoundary`) instead of returning them. */
  throwOnError?: boolean;
}

const IDLE_KEY = ['pyat', 'idle'] as const;

/**
 * A number that changes whenever the pending optimistic writes change, so a `select` that shows
 * them is run again (TanStack reruns `select` when its identity changes).
 */
function useOverlayVersion(): number {
  const pa = usePyAirtable();
  const [version, bump] = useReducer((n: number) => n + 1, 0);
  useEffect(() => pa.cache?.overlay.subscribe(bump), [pa]);
  return version;
}

/** The cached server data with the pending optimistic writes on top (`CacheSync.view`). */
function useOverlaySelect<T>(queryKey: readonly unknown[]): ((data: T) => T) | undefined {
  const pa = usePyAirtable();
  const version = useOverlayVersion();
  const hash = hashKey(queryKey);
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new function per overlay change
  return useMemo(() => {
    const cache = pa.cache;
    return cache === null ? undefined : (data: T) => cache.view(queryKey, data);
  }, [pa, hash, version]);
}

function useServiceQuery<T>(
  build: () => ServiceQueryOptions<T>,
  ready: boolean,
  deps: readonly unknown[],
  options: DataHookOptions,
): UseQueryResult<T> {
  const pa = usePyAirtable();
  // biome-ignore lint/correctness/useExhaustiveDependencies: `deps` hashes the arguments of `build`
  const built = useMemo(() => (ready ? build() : null), [pa, ready, hashKey([...deps])]);
  const queryKey = built?.queryKey ?? IDLE_KEY;
  const select = useOverlaySelect<T>(queryKey);
  return useQuery<T, Error, T, readonly unknown[]>({
    queryKey,
    queryFn: built === null || options.enabled === false ? skipToken : built.queryFn,
    staleTime: built?.staleTime ?? 0,
    throwOnError: options.throwOnError ?? false,
    ...(select ? { select } : {}),
  });
}

/**
 * One page of a table's records, kept current by writes and realtime events.
 * `query`: `viewId`, `filter`, `sort`, `fields`, `pageSize`, `offset`.
 */
export function useRecords(
  tableId: string | null | undefined,
  query: RecordQuery = {},
  options: DataHookOptions = {},
): UseQueryResult<RecordList> {
  const pa = usePyAirtable();
  return useServiceQuery(
    () => recordsQuery(pa, tableId ?? '', query),
    Boolean(tableId),
    [tableId, query],
    options,
  );
}

/** One record, kept current. */
export function useRecord(
  recordId: string | null | undefined,
  options: DataHookOptions = {},
): UseQueryResult<AirtableRecord> {
  const pa = usePyAirtable();
  return useServiceQuery(
    () => recordQuery(pa, recordId ?? ''),
    Boolean(recordId),
    [recordId],
    options,
  );
}

/** The workspaces the user belongs to. */
export function useWorkspaces(
  query: PageQuery = {},
  options: DataHookOptions = {},
): UseQueryResult<WorkspaceList> {
  const pa = usePyAirtable();
  return useServiceQuery(() => workspacesQuery(pa, query), true, [query], options);
}

/** The bases of a workspace. */
export function useBases(
  workspaceId: string | null | undefined,
  query: PageQuery = {},
  options: DataHookOptions = {},
): UseQueryResult<BaseList> {
  const pa = usePyAirtable();
  return useServiceQuery(
    () => basesQuery(pa, workspaceId ?? '', query),
    Boolean(workspaceId),
    [workspaceId, query],
    options,
  );
}

/** The tables of a base, each with its fields. */
export function useTables(
  baseId: string | null | undefined,
  query: PageQuery = {},
  options: DataHookOptions = {},
): UseQueryResult<TableList> {
  const pa = usePyAirtable();
  return useServiceQuery(
    () => tablesQuery(pa, baseId ?? '', query),
    Boolean(baseId),
    [baseId, query],
    options,
  );
}

/** One table with its fields. */
export function useTable(
  tableId: string | null | undefined,
  options: DataHookOptions = {},
): UseQueryResult<Table> {
  const pa = usePyAirtable();
  return useServiceQuery(() => tableQuery(pa, tableId ?? ''), Boolean(tableId), [tableId], options);
}

/**
 * A table's records in cursor pages loaded as the user scrolls: `fetchNextPage()` loads the
 * next, `hasNextPage` says whether there is one; `data.pages[i].data` are the rows.
 */
export function useInfiniteRecords(
  tableId: string | null | undefined,
  query: Omit<RecordQuery, 'offset'> = {},
  options: DataHookOptions = {},
): UseInfiniteQueryResult<{ pages: RecordList[]; pageParams: (string | undefined)[] }> {
  const pa = usePyAirtable();
  // biome-ignore lint/correctness/useExhaustiveDependencies: the query is compared by its hash
  const built = useMemo(
    () => (tableId ? infiniteRecordsQuery(pa, tableId, query) : null),
    [pa, tableId, hashKey([query])],
  );
  const queryKey = built?.queryKey ?? IDLE_KEY;
  const select = useOverlaySelect<InfiniteData<RecordList, string | undefined>>(queryKey);
  return useInfiniteQuery({
    queryKey,
    ...(select ? { select } : {}),
    queryFn: built === null || options.enabled === false ? skipToken : built.queryFn,
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last: RecordList) => last.pagination.next_offset ?? undefined,
    staleTime: built?.staleTime ?? 0,
    throwOnError: options.throwOnError ?? false,
  });
}
