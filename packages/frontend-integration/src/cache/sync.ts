/**
 * The sync layer over TanStack Query's `QueryClient`: read-through with the original design's
 * lifetimes and stale-while-revalidate, and every cached view kept current from events.
 *
 * - A record list fetch keeps its `event_position`; record events newer than it that arrived
 *   while it was in flight are applied to the result before it is stored (no fetch/event race).
 * - A record is never replaced by a lower `version` (the entity index remembers the newest).
 * - Cached lists are patched in place from events: the record is replaced, removed, or inserted
 *   by the list's filter and sort evaluated with the server's rules; a list that cannot be
 *   decided (a view's hidden filters, several pages, an undecidable field) is invalidated.
 * - Schema events invalidate the table's schema, views and records.
 * - Pending optimistic writes (`overlay`) are never stored: every read of a cached view is seen
 *   through them (`view`), and a confirmed one is forgotten once no cached copy is older.
 */
import { hashKey, type QueryClient } from '@tanstack/query-core';
import type { Metrics } from '../metrics.js';
import type { Lifetime, LocalChange, ReadThrough } from '../services/base.js';
import type { AirtableEvent, AirtableRecord, RecordList, Table } from '../types/index.js';
import { keys, type RecordListQuery, ROOT } from './keys.js';
import { comparator, type FilterNode, matches, Schema, Undecidable } from './matcher.js';
import { Overlay } from './overlay.js';

/** The original design's lifetimes (ms): profile 15 min, workspace list 5 min, record lists 2 min, schema 30 min. */
export const LIFETIMES: { [kind in Lifetime]: number } = {
  profile: 15 * 60_000,
  workspaces: 5 * 60_000,
  records: 2 * 60_000,
  schema: 30 * 60_000,
  default: 5 * 60_000,
};
const BUFFERED_EVENTS = 2000;

export interface CacheStats {
  hits: number;
  misses: number;
  ratio: number | null;
}

type Known = { version: number; record: AirtableRecord | null };
/** A TanStack infinite query's data: the record pages loaded so far. */
type InfiniteRecords = { pages: RecordList[]; pageParams: unknown[] };

export class CacheSync implements ReadThrough {
  private readonly known = new Map<string, Known>();
  private readonly recent: AirtableEvent[] = [];
  /** One matcher schema per cached table object (a refetched table is a new object). */
  private readonly schemas = new WeakMap<Table, Schema>();
  /** The optimistic writes shown on top of the cached server data. */
  readonly overlay = new Overlay();

  constructor(
    readonly queryClient: QueryClient,
    private readonly metrics: Metrics,
    private readonly options: { defaultLifetime?: number } = {},
  ) {
    // Every change of cached data may let a confirmed overlay entry go.
    queryClient.getQueryCache().subscribe((event) => {
      if (this.overlay.size > 0 && (event.type === 'updated' || event.type === 'removed'))
        this.settleOverlay();
    });
  }

  async read<T>(key: readonly unknown[], fetch: () => Promise<T>, lifetime: Lifetime): Promise<T> {
    const staleTime = this.staleTime(lifetime);
    const state = this.queryClient.getQueryState(key);
    // Invalidated data is known to be wrong (a write or an event changed it): fetched again
    // before answering. Data merely past its lifetime is answered at once and refreshed behind.
    if (state?.data !== undefined && state.status === 'success' && !state.isInvalidated) {
      this.metrics.cacheHits += 1;
      if (Date.now() - state.dataUpdatedAt > staleTime) {
        void this.queryClient
          .fetchQuery({ queryKey: key, queryFn: () => this.guarded(key, fetch), staleTime })
          .catch(() => undefined);
      }
      return this.view(key, structuredClone(state.data as T));
    }
    this.metrics.cacheMisses += 1;
    const data = await this.queryClient.fetchQuery({
      queryKey: key,
      queryFn: () => this.guarded(key, fetch),
      staleTime,
    });
    return this.view(key, structuredClone(data));
  }

  /**
   * `data` cached under `key` as the user should see it: the pending optimistic writes on top.
   * A list gains records created or moved into its filter, loses deleted ones, and reorders by
   * its sort where the client can decide it (else the record is changed where it stands). A
   * single record shows pending field changes (a pending delete hides it only from lists). For
   * a UI observer's `select`; returns `data` itself when no write applies.
   */
  view<T>(key: readonly unknown[], data: T): T {
    if (this.overlay.size === 0 || key[0] !== ROOT || data === undefined || data === null)
      return data;
    if (key[1] === 'record')
      return (this.overlay.apply(data as unknown as AirtableRecord) ?? data) as T;
    if (key[1] !== 'records') return data;
    if ('pages' in (data as object)) return this.viewPages(data as unknown as InfiniteRecords) as T;
    const list = data as unknown as RecordList;
    const tableId = String(key[2]);
    const query = (key[3] ?? {}) as Omit<RecordListQuery, 'tableId'>;
    const complete = !list.pagination.has_next && !query.offset;
    let rows = list.data;
    for (const [recordId, seed] of this.overlay.recordsOf(tableId)) {
      const held = rows.find((row) => row.id === recordId);
      const base = held ?? seed ?? this.known.get(recordId)?.record ?? null;
      if (base === null) continue;
      const seen = this.overlay.apply(base);
      if (seen === null && held === undefined) continue;
      // Nothing to show: the copy caught up (a create's record is shown even unchanged).
      if (seen === base && (held !== undefined || seed === null)) continue;
      const placed = this.patchRows(rows, tableId, query, recordId, seen, complete, true);
      if (placed !== null) rows = placed;
      else if (held !== undefined && seen !== null)
        rows = rows.map((row) => (row.id === recordId ? seen : row));
    }
    if (rows === list.data) return data;
    const delta = rows.length - list.data.length;
    return {
      ...list,
      data: rows,
      pagination: { ...list.pagination, total: list.pagination.total + delta },
    } as T;
  }

  /**
   * An infinite list with the pending writes on top of the rows its loaded pages hold (changed
   * or hidden in place; a created record joins it when the server's data does).
   */
  private viewPages(data: InfiniteRecords): InfiniteRecords {
    let changed = false;
    const pages = data.pages.map((page) => {
      let rows = page.data;
      for (const row of page.data) {
        const seen = this.overlay.apply(row);
        if (seen === row) continue;
        rows =
          seen === null
            ? rows.filter((other) => other.id !== row.id)
            : rows.map((other) => (other.id === row.id ? seen : other));
      }
      if (rows === page.data) return page;
      changed = true;
      return { ...page, data: rows };
    });
    return changed ? { ...data, pages } : data;
  }

  /** Rebuilds the record index from the cached queries (after a restore from storage). */
  reindex(): void {
    for (const query of this.queryClient.getQueryCache().findAll({ queryKey: [ROOT] })) {
      const data = query.state.data as
        | { data?: unknown; id?: unknown; version?: unknown }
        | undefined;
      if (query.queryKey[1] === 'records' && Array.isArray(data?.data))
        for (const record of data.data as AirtableRecord[]) this.remember(record);
      else if (query.queryKey[1] === 'records' && data !== undefined && 'pages' in data)
        for (const page of (data as unknown as InfiniteRecords).pages)
          for (const record of page.data) this.remember(record);
      else if (query.queryKey[1] === 'record' && data !== undefined)
        this.remember(data as unknown as AirtableRecord);
    }
  }

  /** Forgets the confirmed overlay entries every cached copy has caught up with. */
  settleOverlay(): void {
    this.overlay.collect((recordId, version, created) =>
      this.olderCopyHeld(recordId, version, created),
    );
  }

  /** The newest copy of a record this cache has seen, or null. */
  knownRecord(recordId: string): AirtableRecord | null {
    return this.known.get(recordId)?.record ?? null;
  }

  /**
   * Whether a cached view holds `recordId` older than `version`, or shows a copy while it
   * refetches (a list refetching after a create may not hold the new record yet).
   */
  private olderCopyHeld(recordId: string, version: number, created: boolean): boolean {
    const known = this.known.get(recordId);
    if (known !== undefined && known.record !== null && known.version < version) return true;
    const cache = this.queryClient.getQueryCache();
    const single = this.queryClient.getQueryData<AirtableRecord>(keys.record(recordId));
    if (single !== undefined && single.version < version) return true;
    for (const query of cache.findAll({ queryKey: [ROOT, 'records'] })) {
      const data = query.state.data as RecordList | InfiniteRecords | undefined;
      if (data === undefined) continue;
      const rows = 'pages' in data ? data.pages.flatMap((page) => page.data) : data.data;
      // Shown while it refetches: its copy may be older than the write (stale-while-revalidate).
      if (query.state.isInvalidated || query.state.fetchStatus === 'fetching') {
        if (created || rows.some((row) => row.id === recordId)) return true;
        continue;
      }
      if (rows.some((row) => row.id === recordId && row.version < version)) return true;
    }
    return false;
  }

  /** How long an answer of this kind stays fresh (ms). */
  staleTime(lifetime: Lifetime): number {
    return lifetime === 'default'
      ? (this.options.defaultLifetime ?? LIFETIMES.default)
      : LIFETIMES[lifetime];
  }

  /**
   * `fetch`'s answer for `key`, made consistent the way `read` stores it (buffered events newer
   * than a list's `event_position` applied, no record older than one already seen). For a
   * TanStack observer (a `useQuery`) whose `queryFn` fetches the data itself.
   */
  settled<T>(key: readonly unknown[], fetch: () => Promise<T>): Promise<T> {
    return this.guarded(key, fetch);
  }

  getStats(): CacheStats {
    const { cacheHits: hits, cacheMisses: misses } = this.metrics;
    return { hits, misses, ratio: hits + misses ? hits / (hits + misses) : null };
  }

  /**
   * Invalidates every query under `key` (a prefix; all of ours without one). Queries a component
   * shows (with a TanStack observer, as the React hooks have) are fetched again at once; the
   * others on their next read.
   */
  invalidate(key: readonly unknown[] = keys.all()): Promise<void> {
    return this.queryClient.invalidateQueries({ queryKey: key, refetchType: 'active' });
  }

  /** Forgets everything (sign-out, another user). */
  clear(): void {
    this.queryClient.removeQueries({ queryKey: keys.all() });
    this.known.clear();
    this.recent.length = 0;
    this.overlay.clear();
  }

  /** What a write through the services changed. */
  applyLocal(change: LocalChange): void {
    if (change.kind === 'record') this.putRecord(change.record);
    else if (change.kind === 'recordDeleted') this.removeRecord(change.recordId, change.tableId);
    else for (const key of change.keys) void this.invalidate(key);
  }

  /** An event from the realtime feed. */
  applyEvent(event: AirtableEvent): void {
    if (event.channel === 'record') {
      this.recent.push(event);
      if (this.recent.length > BUFFERED_EVENTS) this.recent.shift();
      const payload = event.payload as { record?: AirtableRecord; record_id?: string };
      if (event.type === 'record.deleted')
        this.removeRecord(event.aggregate_id, event.table_id, event.version ?? undefined);
      else if (payload.record) this.putRecord(payload.record);
      return;
    }
    const tableId = event.table_id;
    if (event.channel === 'field' || event.channel === 'view' || event.channel === 'table') {
      if (tableId) {
        for (const key of [
          keys.table(tableId),
          keys.fields(tableId),
          keys.views(tableId),
          keys.records(tableId),
        ]) {
          void this.invalidate(key);
        }
      }
      if (event.channel === 'table' && event.base_id)
        void this.invalidate(keys.tables(event.base_id));
      if (event.channel === 'field') void this.invalidate([ROOT, 'field', event.aggregate_id]);
      if (event.channel === 'view') void this.invalidate([ROOT, 'view', event.aggregate_id]);
      return;
    }
    if (event.channel === 'base' && event.workspace_id) {
      void this.invalidate(keys.bases(event.workspace_id));
      void this.invalidate(keys.base(event.aggregate_id));
    }
    if (event.channel === 'workspace') {
      void this.invalidate(keys.workspaces());
      if (event.workspace_id) {
        void this.invalidate(keys.workspace(event.workspace_id));
        void this.invalidate(keys.members(event.workspace_id));
        void this.invalidate(keys.permissions(event.workspace_id));
      }
    }
  }

  /** The newest version of a record this cache has seen (events, writes, fetches). */
  knownVersion(recordId: string): number | null {
    return this.known.get(recordId)?.version ?? null;
  }

  private async guarded<T>(key: readonly unknown[], fetch: () => Promise<T>): Promise<T> {
    const data = await fetch();
    if (key[1] === 'records') return this.settleList(data as RecordList, key) as T;
    if (key[1] === 'record') return (this.settleRecord(data as AirtableRecord) ?? data) as T;
    return data;
  }

  /** A fetched list made consistent with newer knowledge: buffered events, higher versions. */
  private settleList(list: RecordList, key: readonly unknown[]): RecordList {
    const position = list.pagination.event_position;
    const tableId = String(key[2]);
    let rows = list.data
      .map((record) => this.settleRecord(record))
      .filter((r): r is AirtableRecord => r !== null);
    const query = (key[3] ?? {}) as Omit<RecordListQuery, 'tableId'>;
    for (const event of this.recent) {
      if (event.seq <= position || event.table_id !== tableId) continue;
      const patched = this.patchRows(
        rows,
        tableId,
        query,
        event.aggregate_id,
        this.known.get(event.aggregate_id)?.record ?? null,
        !list.pagination.has_next && !query.offset,
      );
      if (patched === null) {
        void this.invalidate(key);
        break;
      }
      rows = patched;
    }
    for (const record of rows) this.remember(record);
    return { ...list, data: rows };
  }

  private settleRecord(record: AirtableRecord): AirtableRecord | null {
    const known = this.known.get(record.id);
    if (known !== undefined && known.version > record.version) return known.record;
    this.remember(record);
    return record;
  }

  private remember(record: AirtableRecord): void {
    const known = this.known.get(record.id);
    if (known === undefined || known.version <= record.version)
      this.known.set(record.id, { version: record.version, record });
  }

  private putRecord(record: AirtableRecord): void {
    const known = this.known.get(record.id);
    if (known !== undefined && known.version >= record.version && known.record !== null) return;
    this.remember(record);
    const single = this.queryClient.getQueryData<AirtableRecord>(keys.record(record.id));
    if (single === undefined || single.version < record.version)
      this.queryClient.setQueryData(keys.record(record.id), record);
    this.patchLists(record.table_id, record.id, record);
  }

  private removeRecord(recordId: string, tableId: string | null, version?: number): void {
    this.known.set(recordId, { version: version ?? Number.MAX_SAFE_INTEGER, record: null });
    this.queryClient.removeQueries({ queryKey: keys.record(recordId) });
    this.patchLists(tableId, recordId, null);
  }

  private patchLists(
    tableId: string | null,
    recordId: string,
    record: AirtableRecord | null,
  ): void {
    const prefix = tableId ? keys.records(tableId) : [ROOT, 'records'];
    for (const query of this.queryClient.getQueryCache().findAll({ queryKey: prefix })) {
      const data = query.state.data as RecordList | InfiniteRecords | undefined;
      if (data === undefined) continue;
      const listTable = String(query.queryKey[2]);
      const options = (query.queryKey[3] ?? {}) as Omit<RecordListQuery, 'tableId'>;
      if ('pages' in data) {
        this.patchPages(query.queryKey, data, listTable, options, recordId, record);
        continue;
      }
      const list = data;
      const complete = !list.pagination.has_next && !options.offset;
      const rows = this.patchRows(list.data, listTable, options, recordId, record, complete);
      if (rows === null) {
        void this.queryClient.invalidateQueries({
          queryKey: query.queryKey,
          exact: true,
          refetchType: 'active',
        });
        continue;
      }
      if (rows !== list.data) {
        const delta = rows.length - list.data.length;
        this.queryClient.setQueryData(query.queryKey, {
          ...list,
          data: rows,
          pagination: { ...list.pagination, total: list.pagination.total + delta },
        });
      }
    }
  }

  /**
   * An infinite list (pages fetched as the user scrolls): a record already on a page is replaced
   * or removed in place; one that may enter the list cannot be placed among unloaded pages, so the
   * list is invalidated.
   */
  private patchPages(
    queryKey: readonly unknown[],
    data: InfiniteRecords,
    tableId: string,
    options: Omit<RecordListQuery, 'tableId'>,
    recordId: string,
    record: AirtableRecord | null,
  ): void {
    let changed = false;
    const pages: RecordList[] = [];
    for (const page of data.pages) {
      const present = page.data.some((row) => row.id === recordId);
      const rows = present
        ? this.patchRows(page.data, tableId, options, recordId, record, false)
        : page.data;
      if (rows === null) {
        void this.queryClient.invalidateQueries({ queryKey, exact: true, refetchType: 'active' });
        return;
      }
      if (rows !== page.data) changed = true;
      pages.push(rows === page.data ? page : { ...page, data: rows });
    }
    const found = data.pages.some((page) => page.data.some((row) => row.id === recordId));
    if (!found && record !== null) {
      void this.queryClient.invalidateQueries({ queryKey, exact: true, refetchType: 'active' });
      return;
    }
    if (changed) this.queryClient.setQueryData(queryKey, { ...data, pages });
  }

  private schemaOf(table: Table): Schema {
    let schema = this.schemas.get(table);
    if (schema === undefined) {
      schema = new Schema(table.fields.map((f) => ({ id: f.id, name: f.name, type: f.type })));
      this.schemas.set(table, schema);
    }
    return schema;
  }

  /** `rows` with the record placed by the list's filter and sort; null when undecidable. */
  private patchRows(
    rows: AirtableRecord[],
    tableId: string,
    query: Omit<RecordListQuery, 'tableId'>,
    recordId: string,
    record: AirtableRecord | null,
    complete: boolean,
    optimistic = false,
  ): AirtableRecord[] | null {
    const at = rows.findIndex((row) => row.id === recordId);
    if (record === null) return at < 0 ? rows : rows.filter((row) => row.id !== recordId);
    if (!optimistic && at >= 0 && (rows[at]?.version ?? 0) >= record.version) return rows;
    if (query.viewId !== undefined || query.fields !== undefined) return null; // the view's filters, or partial fields
    const table = this.queryClient.getQueryData<Table>(keys.table(tableId));
    if (table === undefined)
      return at >= 0 && !query.filter && !query.sort
        ? rows.map((row) => (row.id === recordId ? record : row))
        : null;
    try {
      const schema = this.schemaOf(table);
      const keep = matches(record.fields, query.filter as FilterNode | undefined, schema);
      const without = at >= 0 ? rows.filter((row) => row.id !== recordId) : rows;
      if (!keep) return at >= 0 ? without : rows;
      if (!complete)
        return at >= 0 && !query.sort
          ? rows.map((row) => (row.id === recordId ? record : row))
          : null;
      const order = comparator(query.sort, schema);
      const index = without.findIndex((row) => order(record, row) < 0);
      const next = [...without];
      next.splice(index < 0 ? next.length : index, 0, record);
      return next;
    } catch (error) {
      if (error instanceof Undecidable) return null;
      throw error;
    }
  }
}

export { hashKey };
