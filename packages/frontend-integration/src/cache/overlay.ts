/**
 * Optimistic overlays: pending record writes shown on top of server data, never written into it.
 *
 * Each write is one entry, in the order it was made; several entries on one record stack. The
 * query cache keeps only what the server said, and every read of a cached view is seen through
 * the overlay (`CacheSync.view`), so a write shows in every cached view holding the record
 * (TanStack/query #5624) and undoing one entry leaves the server's data with the others on top.
 *
 * An entry is confirmed with the version the server answered, and from then on it is applied
 * only to cached copies still older than that version: it comes off a view exactly when that
 * view's server data has caught up (Convex's rule, made exact by record versions), with no
 * timeout and no flicker between the answer and a refetch. Confirmed entries are forgotten once
 * no cached view holds an older copy (`CacheSync` collects them). Pure state; no I/O.
 */
import { Subscribable } from '../subscribable.js';
import type { AirtableRecord } from '../types/index.js';

export type Fields = { [field: string]: unknown };
export type UpdateKind = 'create' | 'update' | 'replace' | 'delete';

/** The prefix of a record id made up locally for a create the server has not answered yet. */
export const TEMPORARY_ID_PREFIX = 'tmp_';

/** The temporary id a create shows under until the server answers: `tmp_<updateId>`. */
export const temporaryIdOf = (updateId: string): string => `${TEMPORARY_ID_PREFIX}${updateId}`;

export const isTemporaryId = (recordId: string): boolean =>
  recordId.startsWith(TEMPORARY_ID_PREFIX);

/** One optimistic write not yet confirmed or rolled back. */
export interface PendingUpdate {
  /** Its id: the write's idempotency key. */
  readonly updateId: string;
  readonly kind: UpdateKind;
  readonly tableId: string;
  /** The record; a `tmp_…` id for a create until the server gives the real one. */
  readonly recordId: string;
  /** The local change (empty for a delete). */
  readonly fields: Fields;
  /** The version the user saw (the `If-Match`), null for a create or an unknown record. */
  readonly baseVersion: number | null;
  /** The record's fields as the user saw them (what a field-level merge compares with). */
  readonly baseFields: Fields | null;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
}

interface Entry extends PendingUpdate {
  recordId: string;
  /** Set on confirmation: copies at this version or newer no longer need the entry. */
  confirmedVersion: number | null;
  /** The server's answer (a create's record, inserted into views that lack it). */
  result: AirtableRecord | null;
}

/** Every version is below this: a confirmed delete hides the record from every copy. */
const GONE = Number.MAX_SAFE_INTEGER;

export class Overlay extends Subscribable<() => void> {
  private readonly entries = new Map<string, Entry>();

  get size(): number {
    return this.entries.size;
  }

  /** The writes not yet confirmed, oldest first. */
  pending(): PendingUpdate[] {
    return [...this.entries.values()]
      .filter((entry) => entry.confirmedVersion === null)
      .map(({ confirmedVersion: _, result: __, ...update }) => update);
  }

  get(updateId: string): PendingUpdate | undefined {
    return this.entries.get(updateId);
  }

  /** Shows `update` on top of every cached copy of its record. */
  add(update: PendingUpdate): void {
    this.entries.set(update.updateId, { ...update, confirmedVersion: null, result: null });
    this.emit();
  }

  /**
   * The server applied the write: `record` is its answer (null after a delete). A create's
   * entry, and every entry on its temporary id, move to the real id.
   */
  confirm(updateId: string, record: AirtableRecord | null): void {
    const entry = this.entries.get(updateId);
    if (entry === undefined) return;
    if (entry.kind === 'create' && record !== null) this.remap(entry.recordId, record.id);
    entry.confirmedVersion = record === null ? GONE : record.version;
    entry.result = record;
    this.emit();
  }

  /** Takes the write off every view at once (a rollback, or a confirmation with no answer). */
  drop(updateId: string): boolean {
    const dropped = this.entries.delete(updateId);
    if (dropped) this.emit();
    return dropped;
  }

  /** Entries on the temporary id `from` now name the record `to`. */
  remap(from: string, to: string): void {
    for (const entry of this.entries.values()) if (entry.recordId === from) entry.recordId = to;
  }

  /** The updates on the same (temporary) record that came after `updateId`. */
  dependents(updateId: string): PendingUpdate[] {
    const entry = this.entries.get(updateId);
    if (entry === undefined) return [];
    return [...this.entries.values()].filter(
      (other) => other.recordId === entry.recordId && other.updateId !== updateId,
    );
  }

  /** The table of a record some entry names (a temporary record's), or null. */
  tableOf(recordId: string): string | null {
    for (const entry of this.entries.values())
      if (entry.recordId === recordId) return entry.tableId;
    return null;
  }

  /** The record ids of a table that have entries, each with its create's base if any. */
  recordsOf(tableId: string): Map<string, AirtableRecord | null> {
    const found = new Map<string, AirtableRecord | null>();
    for (const entry of this.entries.values()) {
      if (entry.tableId !== tableId) continue;
      const seed = entry.kind === 'create' ? (entry.result ?? placeholder(entry)) : null;
      if (!found.has(entry.recordId) || seed !== null) found.set(entry.recordId, seed);
    }
    return found;
  }

  /**
   * `record` as the user should see it: the entries it has not caught up with, applied in
   * order. Null when a pending delete hides it; the same object when nothing applies.
   */
  apply(record: AirtableRecord): AirtableRecord | null {
    let seen: AirtableRecord = record;
    for (const entry of this.entries.values()) {
      if (entry.recordId !== record.id) continue;
      if (entry.confirmedVersion !== null && record.version >= entry.confirmedVersion) continue;
      if (entry.kind === 'delete') return null;
      if (entry.kind === 'create') continue; // the seed already holds its fields
      const fields =
        entry.kind === 'replace' ? { ...entry.fields } : { ...seen.fields, ...entry.fields };
      seen = { ...seen, fields: withoutEmpty(fields) };
    }
    return seen;
  }

  /**
   * Forgets confirmed entries whose record every cached copy has caught up with.
   * `olderCopyHeld(recordId, version, created)` says whether some cached view still needs it.
   */
  collect(olderCopyHeld: (recordId: string, version: number, created: boolean) => boolean): void {
    let changed = false;
    for (const entry of [...this.entries.values()]) {
      if (entry.confirmedVersion === null) continue;
      if (olderCopyHeld(entry.recordId, entry.confirmedVersion, entry.kind === 'create')) continue;
      this.entries.delete(entry.updateId);
      changed = true;
    }
    if (changed) this.emit();
  }

  clear(): void {
    if (this.entries.size === 0) return;
    this.entries.clear();
    this.emit();
  }
}

/** The record a create shows before the server answers (version 0: older than any answer). */
function placeholder(entry: Entry): AirtableRecord {
  const at = new Date(entry.createdAt).toISOString();
  return {
    id: entry.recordId,
    table_id: entry.tableId,
    fields: withoutEmpty({ ...entry.fields }),
    version: 0,
    created_at: at,
    updated_at: at,
    created_by: null,
    updated_by: null,
  };
}

/** The contract leaves empty cells out of `fields`; an optimistic view does the same. */
function withoutEmpty(fields: Fields): Fields {
  for (const [name, value] of Object.entries(fields)) {
    if (value === null || value === '' || (Array.isArray(value) && value.length === 0))
      delete fields[name];
  }
  return fields;
}
