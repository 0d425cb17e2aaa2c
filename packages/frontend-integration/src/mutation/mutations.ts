/**
 * `pyairtable.mutations`: the one record mutation (the Python SDK's redesign in issue 15). Each
 * write is a `RecordWrite` plus `MutationOptions` (`optimistic`, `durable`, `onConflict`); the
 * original design's `pyairtable.optimistic.*` calls are thin presets over it.
 *
 * - **Optimistic**: the write is shown at once as an overlay entry (`cache/overlay.ts`) in every
 *   cached view holding the record, and comes off each view when that view's server data reaches
 *   the version the server answered. A failed write is rolled back (its entry dropped); the
 *   other pending writes stay shown.
 * - **Ordered per record**: writes to one record are sent one after another, each with
 *   `If-Match` = the version the previous one produced (or the version the user saw), so a
 *   client never conflicts with itself. A create runs under a temporary `tmp_…` id; writes made
 *   on that id wait for it and are sent to the real id; if the create fails, they fail too.
 * - **Conflicts**: a 409 is resolved by `onConflict` (`serverWins`, `clientWins`, `merge` with an
 *   optional `resolver`, or a function; see `conflict.ts`).
 * - **Durable**: with an outbox attached (`attachOutbox`), the write is stored before it is sent
 *   and replayed with the same idempotency key until the server answers (see `outbox/`).
 */
import {
  isTemporaryId,
  type PendingUpdate,
  temporaryIdOf,
  type UpdateKind,
} from '../cache/overlay.js';
import type { CacheSync } from '../cache/sync.js';
import type { Clock } from '../clock.js';
import { ConfigurationError, InvalidRequestError, type ServiceError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { RecordService } from '../services/records.js';
import { Subscribable } from '../subscribable.js';
import { checkId, newId } from '../transport/ids.js';
import type { AirtableRecord } from '../types/index.js';
import type { ConflictStrategy, Fields, Resolution, Resolver } from './conflict.js';
import { type SendOutcome, sendWrite, type WriteOp } from './send.js';

/** One record write. */
export type RecordWrite =
  | { kind: 'create'; tableId: string; fields: Fields }
  | { kind: 'update' | 'replace'; recordId: string; fields: Fields; tableId?: string }
  | { kind: 'delete'; recordId: string; tableId?: string };

export interface MutationOptions {
  /** Show the write before the server confirms it (default: `features.enableOptimisticUpdates`). */
  optimistic?: boolean;
  /** Store it in the offline outbox before sending (default: `features.enableOfflineSupport`). */
  durable?: boolean;
  /** How a 409 is resolved (default `merge`). */
  onConflict?: ConflictStrategy;
  /** Asked by `merge` when both sides changed a field differently. */
  resolver?: Resolver;
  /** `If-Match` (default: the version the cache holds, or the previous write's answer). */
  expectedVersion?: number;
  /** The write's idempotency key, also its update id (default: a new one). */
  idempotencyKey?: string;
  typecast?: boolean;
}

export interface MutationResult {
  /** The record after the write (the server's own when it won a conflict); null after a delete. */
  record: AirtableRecord | null;
  /** False when a conflict was resolved in the server's favour. */
  applied: boolean;
  /** The write's id (its idempotency key); names its overlay entry while pending. */
  updateId: string;
  resolution: Resolution | null;
}

export type UpdateOutcome = 'confirmed' | 'rolledBack';

/** What happened to an optimistic update, as listeners hear it. */
export interface UpdateEvent {
  outcome: UpdateOutcome;
  update: PendingUpdate;
  record: AirtableRecord | null;
  error: unknown;
  resolution: Resolution | null;
}

/** What the outbox says about a queued write (see `Outbox`'s events). */
export type QueuedEvent =
  | { kind: 'added'; entry: QueuedEntry }
  | { kind: 'sent'; entry: QueuedEntry; outcome: SendOutcome }
  | { kind: 'failed' | 'deferred'; entry: QueuedEntry; error: unknown }
  | { kind: 'needsReview' | 'discarded'; entry: QueuedEntry };

export interface QueuedEntry {
  id: string;
  scope: string;
  op: WriteOp;
  createdAt: number;
}

/** The durable path: the outbox stores the op first and settles it (possibly in another tab). */
export interface DurableSink {
  /**
   * Stores `op` and resolves with the outcome once sent; rejects with `OfflineError` (its entry id)
   * when the backend cannot be reached now (the entry stays queued), else with the write's error.
   */
  submit(
    op: WriteOp & { scope: string; strategy: ConflictStrategy },
    resolver?: Resolver,
  ): Promise<SendOutcome>;
}

interface Scope {
  tail: Promise<unknown>;
  queued: number;
  /** The record as this client's last write on it left it. */
  last: AirtableRecord | null;
}

export class RecordMutations extends Subscribable<(event: UpdateEvent) => void> {
  private readonly scopes = new Map<string, Scope>();
  /** Temporary ids of creates the server answered → the real ids. */
  private readonly aliases = new Map<string, string>();
  /** Temporary ids of creates that failed → why. */
  private readonly failedCreates = new Map<string, unknown>();
  private outbox: DurableSink | null = null;
  /** Durable writes whose caller is still waiting in `mutate` (their outcome is settled there). */
  private readonly awaiting = new Set<string>();

  constructor(
    private readonly deps: {
      records: RecordService;
      cache: CacheSync | null;
      metrics: Metrics;
      clock: Clock;
      optimisticByDefault: boolean;
      durableByDefault: boolean;
    },
  ) {
    super();
  }

  /** Routes durable writes through `outbox` (the offline outbox, once it is open). */
  attachOutbox(outbox: DurableSink | null): void {
    this.outbox = outbox;
  }

  /**
   * What the outbox reports about queued writes this tab is not waiting for (restored after a
   * reload, made in another tab, or queued while offline): shown, confirmed or rolled back.
   */
  queued(event: QueuedEvent): void {
    const id = event.entry.id;
    if (this.awaiting.has(id)) return;
    const overlay = this.deps.cache?.overlay;
    if (overlay === undefined) return;
    if (event.kind === 'added') {
      if (overlay.get(id) !== undefined) return;
      const { op, scope } = event.entry;
      const recordId = this.resolveId(scope);
      overlay.add({
        updateId: id,
        kind: op.kind,
        // A service write may not name its table; the cached record does.
        tableId: op.tableId || (this.deps.cache?.knownRecord(recordId)?.table_id ?? ''),
        recordId,
        fields: { ...op.fields },
        baseVersion: op.expectedVersion,
        baseFields: op.baseFields,
        createdAt: event.entry.createdAt,
      });
      return;
    }
    const update = overlay.get(id);
    if (update === undefined) return;
    if (event.kind === 'sent') this.settle(update, event.outcome);
    else if (event.kind === 'failed') this.fail(update, event.error);
    else if (event.kind === 'discarded') this.fail(update, null);
  }

  /** The real id of `recordId` (a temporary id once its create is confirmed). */
  resolveId(recordId: string): string {
    return this.aliases.get(recordId) ?? recordId;
  }

  /**
   * Makes one record write: shown at once when optimistic, ordered after earlier writes to the
   * same record, sent with `If-Match`, conflicts resolved by `onConflict`.
   *
   * @throws OfflineError a durable write could not be sent now; it stays queued (and shown).
   * @throws ConflictError conflicts could not be resolved within the round limit.
   * @throws ServiceError the write failed (its optimistic change is rolled back).
   */
  async mutate(write: RecordWrite, options: MutationOptions = {}): Promise<MutationResult> {
    const updateId = options.idempotencyKey ?? newId();
    const durable = options.durable ?? (this.deps.durableByDefault && this.outbox !== null);
    if (durable && this.outbox === null)
      throw new ConfigurationError({
        durable: 'needs features.enableOfflineSupport and IndexedDB (the offline outbox)',
      });
    const recordId =
      write.kind === 'create' ? temporaryIdOf(updateId) : this.resolveId(write.recordId);
    if (write.kind !== 'create' && !isTemporaryId(recordId)) checkId('rec', recordId, 'recordId');
    if (write.kind === 'create') checkId('tbl', write.tableId, 'tableId');
    const cache = this.deps.cache;
    const known = cache?.knownRecord(recordId) ?? null;
    const onTemporary = isTemporaryId(recordId) ? (cache?.overlay.tableOf(recordId) ?? null) : null;
    const tableId = write.tableId ?? known?.table_id ?? onTemporary;
    const fields = write.kind === 'delete' ? {} : { ...write.fields };
    const optimistic = (options.optimistic ?? this.deps.optimisticByDefault) && cache !== null;
    const update: PendingUpdate = {
      updateId,
      kind: write.kind,
      tableId: tableId ?? '',
      recordId,
      fields,
      baseVersion: options.expectedVersion ?? known?.version ?? null,
      baseFields: known === null ? null : { ...known.fields },
      createdAt: this.deps.clock.now(),
    };
    // A record no cached view holds has nothing to show the write in.
    const shown =
      optimistic &&
      tableId !== null &&
      (known !== null || write.kind === 'create' || onTemporary !== null);
    if (shown) cache?.overlay.add(update);
    const scope = this.scope(recordId);
    const behind = scope.queued > 0;
    scope.queued += 1;
    if (durable) this.awaiting.add(updateId);
    const run = scope.tail.then(() =>
      this.send(update, write.kind, behind, scope, options, durable),
    );
    scope.tail = run.catch(() => undefined);
    try {
      const outcome = await run;
      if (shown) this.settle(update, outcome);
      return { ...outcome, updateId };
    } catch (error) {
      if (shown && !isQueued(error)) this.fail(update, error);
      throw error;
    } finally {
      this.awaiting.delete(updateId);
      scope.queued -= 1;
      if (scope.queued === 0 && this.scopes.get(recordId) === scope) this.scopes.delete(recordId);
    }
  }

  /** Shows a new record at once under a temporary id (sent by the caller; see `confirmUpdate`). */
  optimisticCreateRecord(tableId: string, fields: Fields): { updateId: string; recordId: string } {
    checkId('tbl', tableId, 'tableId');
    const updateId = newId();
    const recordId = temporaryIdOf(updateId);
    this.show({ updateId, kind: 'create', tableId, recordId, fields: { ...fields } });
    return { updateId, recordId };
  }

  /** Shows `fields` merged into a cached record at once; the update id. */
  optimisticUpdateRecord(
    recordId: string,
    fields: Fields,
    options: { tableId?: string } = {},
  ): string {
    return this.showOn('update', recordId, fields, options.tableId);
  }

  /** Hides a cached record from lists at once; the update id. */
  optimisticDeleteRecord(recordId: string, options: { tableId?: string } = {}): string {
    return this.showOn('delete', recordId, {}, options.tableId);
  }

  /**
   * The server applied the update: `actual` (its answer) enters the cache and the overlay entry
   * comes off each view as it catches up. Without `actual` the entry is dropped at once.
   *
   * @throws RangeError no pending update has that id.
   */
  confirmUpdate(updateId: string, actual: AirtableRecord | null = null): void {
    const update = this.pendingUpdate(updateId);
    this.settle(
      update,
      { record: actual, applied: true, resolution: null },
      actual === null && update.kind !== 'delete',
    );
  }

  /**
   * Undoes the update: only its entry comes off, the other pending updates stay shown. Rolling
   * back a create also rolls back the updates made on its temporary record.
   *
   * @throws RangeError no pending update has that id.
   */
  rollbackUpdate(updateId: string, error: unknown = null): void {
    this.fail(this.pendingUpdate(updateId), error);
  }

  /** The optimistic updates not yet confirmed or rolled back, oldest first. */
  getPendingUpdates(): PendingUpdate[] {
    return this.deps.cache?.overlay.pending() ?? [];
  }

  private async send(
    update: PendingUpdate,
    kind: UpdateKind,
    behind: boolean,
    scope: Scope,
    options: MutationOptions,
    durable: boolean,
  ): Promise<SendOutcome> {
    const failed = this.failedCreates.get(update.recordId);
    if (failed !== undefined) throw failed;
    let recordId = kind === 'create' ? null : this.resolveId(update.recordId);
    const scopeId = recordId ?? update.recordId;
    if (recordId !== null && isTemporaryId(recordId)) {
      // Queued behind its create in the outbox: sent to the real id once that is known.
      if (!durable)
        throw new InvalidRequestError(`${recordId} is not a record the server created.`);
      recordId = null;
    }
    // Behind this client's own write: build on what it left, not on what the user first saw.
    const last = behind ? scope.last : null;
    const tableId = update.tableId || last?.table_id || '';
    const op: WriteOp = {
      kind,
      tableId,
      recordId,
      fields: update.fields,
      expectedVersion: options.expectedVersion ?? last?.version ?? update.baseVersion,
      baseFields: last?.fields ?? update.baseFields,
      idempotencyKey: update.updateId,
      ...(options.typecast === undefined ? {} : { typecast: options.typecast }),
    };
    const strategy = options.onConflict ?? 'merge';
    const outcome =
      durable && this.outbox !== null
        ? await this.outbox.submit({ ...op, scope: scopeId, strategy }, options.resolver)
        : await sendWrite(this.deps.records, op, strategy, options.resolver);
    if (!outcome.applied && outcome.record !== null) {
      this.deps.cache?.applyLocal({ kind: 'record', record: outcome.record });
    }
    scope.last = outcome.record;
    if (kind === 'create' && outcome.record !== null) {
      this.aliases.set(update.recordId, outcome.record.id);
      this.scopes.set(outcome.record.id, scope);
    }
    return outcome;
  }

  private settle(update: PendingUpdate, outcome: SendOutcome, dropNow = false): void {
    const cache = this.deps.cache;
    if (cache === null) return;
    if (outcome.record !== null && outcome.applied) {
      cache.applyLocal({ kind: 'record', record: outcome.record });
    }
    if (!outcome.applied || dropNow) cache.overlay.drop(update.updateId);
    else cache.overlay.confirm(update.updateId, outcome.record);
    if (update.kind === 'create' && outcome.record !== null)
      this.aliases.set(update.recordId, outcome.record.id);
    cache.settleOverlay();
    if (outcome.applied) this.deps.metrics.optimisticConfirmed += 1;
    else this.deps.metrics.optimisticRolledBack += 1;
    this.emit({
      outcome: outcome.applied ? 'confirmed' : 'rolledBack',
      update,
      record: outcome.record,
      error: null,
      resolution: outcome.resolution,
    });
  }

  private fail(update: PendingUpdate, error: unknown): void {
    const overlay = this.deps.cache?.overlay;
    if (overlay === undefined || overlay.get(update.updateId) === undefined) return;
    const dependents = update.kind === 'create' ? overlay.dependents(update.updateId) : [];
    if (update.kind === 'create') this.failedCreates.set(update.recordId, error);
    overlay.drop(update.updateId);
    this.deps.metrics.optimisticRolledBack += 1;
    this.emit({ outcome: 'rolledBack', update, record: null, error, resolution: null });
    for (const dependent of dependents) this.fail(dependent, error);
  }

  private show(
    update: Omit<PendingUpdate, 'baseVersion' | 'baseFields' | 'createdAt'> & {
      base?: AirtableRecord | null;
    },
  ): void {
    const cache = this.deps.cache;
    if (cache === null)
      throw new ConfigurationError({ enableCaching: 'optimistic updates need the cache' });
    const { base = null, ...rest } = update;
    cache.overlay.add({
      ...rest,
      baseVersion: base?.version ?? null,
      baseFields: base === null ? null : { ...base.fields },
      createdAt: this.deps.clock.now(),
    });
  }

  private showOn(kind: UpdateKind, recordId: string, fields: Fields, tableId?: string): string {
    const id = this.resolveId(recordId);
    const base = this.deps.cache?.knownRecord(id) ?? null;
    const table = tableId ?? base?.table_id;
    if (table === undefined)
      throw new InvalidRequestError(`${recordId} is not cached; pass its tableId.`, {
        details: { fields: { tableId: 'required for a record the cache does not hold' } },
      });
    const updateId = newId();
    this.show({ updateId, kind, tableId: table, recordId: id, fields: { ...fields }, base });
    return updateId;
  }

  private pendingUpdate(updateId: string): PendingUpdate {
    const update = this.deps.cache?.overlay.get(updateId);
    if (update === undefined) throw new RangeError(`No pending update ${updateId}.`);
    return update;
  }

  private scope(recordId: string): Scope {
    let scope = this.scopes.get(recordId);
    if (scope === undefined) {
      scope = { tail: Promise.resolve(), queued: 0, last: null };
      this.scopes.set(recordId, scope);
    }
    return scope;
  }
}

/** A durable write the outbox kept for later: its overlay stays until it is sent. */
function isQueued(error: unknown): boolean {
  return (error as ServiceError | null)?.type === 'OFFLINE';
}
