/**
 * The offline outbox: durable record writes in IndexedDB, sent exactly once.
 *
 * - **Write-ahead**: a write's row is stored before it is sent (closing TanStack #6238's gap),
 *   so a reload, a crash or a closed tab never loses it.
 * - **Exactly once**: a replay carries the write's idempotency key, so a write whose answer was
 *   lost (or whose tab reloaded mid-send) is answered from the backend's stored result instead
 *   of applied twice, within the backend's 24 h key lifetime. Older rows go to `needsReview`
 *   (`reviewAfter`), never replayed blindly; they wait for `retry` or `discard`.
 * - **Per-record FIFO**: rows of one record are sent one after another (a row queued behind
 *   another is sent with `If-Match` = the version that one produced, written into the row in
 *   the same transaction that removes its predecessor); records drain in parallel. A create's
 *   followers name its temporary id until the create is answered, then the real one.
 * - **One drainer**: only the leader tab (Web Locks) sends; every tab may enqueue and hears
 *   `added`/`sent`/`failed`/`deferred`/`needsReview` over BroadcastChannel, so all tabs show the
 *   same overlays. Draining starts at open, on `online`, when the page becomes visible, on a
 *   live realtime connection (`sync()`), and after every enqueue.
 * - A write the backend refuses (4xx) leaves the outbox as `failed`; one that cannot reach it
 *   (connection error, open breaker, 5xx, 429) stays queued and the drain stops until the next
 *   trigger (`deferred`).
 */
import { temporaryIdOf } from '../cache/overlay.js';
import {
  APIConnectionError,
  OfflineError,
  RateLimitedError,
  ServerError,
  ServiceError,
} from '../errors.js';
import type { ConflictStrategy, Resolver, StrategyName } from '../mutation/conflict.js';
import type { DurableSink } from '../mutation/mutations.js';
import { type SendOutcome, sendWrite, type WriteOp } from '../mutation/send.js';
import type { OnlineStatus } from '../online.js';
import type { RecordService } from '../services/records.js';
import type { Storage } from '../storage.js';
import { entriesOf, type OutboxEntry } from '../storage.js';
import { Subscribable } from '../subscribable.js';
import { Leadership, type LockRequest, platformLocks, TabChannel } from '../tabs.js';

/** The backend keeps idempotency keys 24 h; older rows are not replayed blindly. */
export const DEFAULT_REVIEW_AFTER = 24 * 60 * 60_000;

/** A failure as it crosses tabs (structured-clonable). */
export interface EntryError {
  type: string;
  message: string;
  code: number | null;
}

export type OutboxEvent =
  | { kind: 'added'; entry: OutboxEntry }
  | { kind: 'sent'; entry: OutboxEntry; outcome: SendOutcome }
  | { kind: 'failed'; entry: OutboxEntry; error: EntryError }
  | { kind: 'deferred'; entry: OutboxEntry; error: EntryError }
  | { kind: 'needsReview'; entry: OutboxEntry }
  | { kind: 'discarded'; entry: OutboxEntry };

type Message = OutboxEvent | { kind: 'drain' } | { kind: 'drained' } | { kind: 'leader' };

export interface OutboxOptions {
  user: string;
  storage: Promise<Storage>;
  records: RecordService;
  online: OnlineStatus;
  now: () => number;
  reviewAfter?: number;
  /** Web Locks (default the platform's; null makes this tab lead alone). */
  locks?: LockRequest | null;
  /** Drain on `online` and page visibility (default true). */
  watch?: boolean;
}

interface Waiter {
  resolve: (outcome: SendOutcome) => void;
  reject: (error: unknown) => void;
}

export class Outbox extends Subscribable<(event: OutboxEvent) => void> implements DurableSink {
  private readonly channel: TabChannel<Message>;
  private readonly leadership: Leadership;
  private readonly waiters = new Map<string, Waiter>();
  private readonly resolvers = new Map<string, Resolver>();
  /** The errors of rows this tab failed, as thrown (other tabs get `EntryError`s). */
  private readonly errors = new Map<string, unknown>();
  private readonly detach: (() => void)[] = [];
  private draining: Promise<void> | null = null;
  private again = false;
  private count = 0;
  private review: OutboxEntry[] = [];
  private closed = false;
  private opening: Promise<void> | null = null;
  /** `sync()` calls of this tab waiting for a drain by whichever tab leads. */
  private drainWaiters: (() => void)[] = [];
  private readonly tasks = new Set<Promise<unknown>>();

  constructor(private readonly options: OutboxOptions) {
    super();
    const name = `pyat-outbox:${options.user}`;
    this.channel = new TabChannel<Message>(name, (message) => this.receive(message));
    this.leadership = new Leadership(
      name,
      (leading) => {
        if (!leading) return;
        this.channel.post({ kind: 'leader' });
        this.background(this.drain());
      },
      options.locks === undefined ? platformLocks() : options.locks,
    );
    if (options.watch ?? true) this.watch();
  }

  /** Loads the queue (listeners hear `added` for each row, to restore overlays) and leads when it can. */
  open(): Promise<void> {
    this.opening ??= this.load();
    return this.opening;
  }

  private async load(): Promise<void> {
    const entries = await this.entries();
    await this.recount(entries);
    for (const entry of entries) this.emit({ kind: 'added', entry });
    this.leadership.start();
  }

  /** Writes not yet sent (`needsReview` ones excluded). */
  get pendingCount(): number {
    return this.count;
  }

  get isLeader(): boolean {
    return this.leadership.isLeader;
  }

  /** Rows too old to replay blindly, waiting for `retry` or `discard`. */
  needsReview(): OutboxEntry[] {
    return [...this.review];
  }

  /** Every queued row, oldest first. */
  async entries(): Promise<OutboxEntry[]> {
    return entriesOf(await this.options.storage, this.options.user);
  }

  /**
   * Stores `op` (before anything is sent) and resolves with its outcome once sent by whichever
   * tab leads.
   *
   * @throws OfflineError the backend cannot be reached now; the row stays queued.
   * @throws ServiceError the backend refused the write (it leaves the outbox).
   */
  async submit(
    op: WriteOp & { scope: string; strategy: ConflictStrategy },
    resolver?: Resolver,
  ): Promise<SendOutcome> {
    const { scope, strategy, ...write } = op;
    const entry = await this.add(write, scope, strategy);
    if (resolver !== undefined) this.resolvers.set(entry.id, resolver);
    if (typeof strategy === 'function') this.resolvers.set(entry.id, strategy);
    const settled = new Promise<SendOutcome>((resolve, reject) => {
      this.waiters.set(entry.id, { resolve, reject });
    });
    this.announce({ kind: 'added', entry });
    if (!this.options.online.isOnline()) this.defer(entry.id, offline(entry.id));
    else this.background(this.sync());
    return settled;
  }

  /**
   * Stores `op` to be sent later (a service write that found no backend) and tells every tab;
   * the stored row. A create's row is keyed by the temporary id `tmp_<idempotencyKey>`.
   */
  async enqueue(op: WriteOp, strategy: ConflictStrategy = 'merge'): Promise<OutboxEntry> {
    const entry = await this.add(op, op.recordId ?? temporaryIdOf(op.idempotencyKey), strategy);
    this.announce({ kind: 'added', entry });
    return entry;
  }

  /**
   * Sends what is queued now; resolves after a drain by whichever tab leads (this one, or the
   * leader it asked over BroadcastChannel). Rows that cannot go now stay queued.
   */
  async sync(): Promise<void> {
    await this.opening;
    if (this.leadership.isLeader) return this.drain();
    const drained = new Promise<void>((done) => this.drainWaiters.push(done));
    this.channel.post({ kind: 'drain' });
    return drained;
  }

  /** Sends a `needsReview` row again, under a new key (the old one may have expired). */
  async retry(id: string): Promise<void> {
    const db = await this.options.storage;
    const tx = db.transaction('outbox', 'readwrite');
    const entry = await tx.store.index('id').get(id);
    if (entry?.seq === undefined) return;
    const again: OutboxEntry = {
      ...entry,
      state: 'pending',
      createdAt: this.options.now(),
      op: { ...entry.op, idempotencyKey: `${entry.op.idempotencyKey}.retry` },
    };
    await tx.store.put(again);
    await tx.done;
    this.announce({ kind: 'added', entry: again }); // every tab: queued again, not in review
    await this.sync();
  }

  /** Drops a queued row (and, for a create, the rows waiting on it). */
  async discard(id: string): Promise<void> {
    const db = await this.options.storage;
    const entry = await db.getFromIndex('outbox', 'id', id);
    if (entry === undefined) return;
    for (const gone of await this.remove(entry)) this.announce({ kind: 'discarded', entry: gone });
    await this.recount();
  }

  /**
   * Stops draining and listening, after the row being sent (if any) is settled; queued rows stay
   * for the next start.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const stop of this.detach) stop();
    for (const [id, waiter] of this.waiters) waiter.reject(offline(id));
    this.waiters.clear();
    await Promise.allSettled([this.draining, ...this.tasks]);
    this.leadership.resign();
    this.channel.close();
    this.wakeDrainWaiters();
  }

  /** Runs `task` in the background; `close` waits for it, and its failure is not unhandled. */
  private background(task: Promise<unknown>): void {
    const tracked = task.catch(() => undefined).finally(() => this.tasks.delete(tracked));
    this.tasks.add(tracked);
  }

  private watch(): void {
    this.detach.push(
      this.options.online.subscribe((online) => {
        if (online) this.background(this.sync());
      }),
    );
    const doc = (globalThis as { document?: Document }).document;
    if (doc !== undefined) {
      const visible = (): void => {
        if (doc.visibilityState === 'visible') this.background(this.sync());
      };
      doc.addEventListener('visibilitychange', visible);
      this.detach.push(() => doc.removeEventListener('visibilitychange', visible));
    }
  }

  private async add(op: WriteOp, scope: string, strategy: ConflictStrategy): Promise<OutboxEntry> {
    const db = await this.options.storage;
    const tx = db.transaction('outbox', 'readwrite');
    const mine = await tx.store.index('user').getAll(this.options.user);
    const entry: OutboxEntry = {
      id: op.idempotencyKey,
      user: this.options.user,
      scope,
      op,
      strategy: typeof strategy === 'function' ? 'merge' : (strategy as StrategyName),
      chained: mine.some((other) => other.scope === scope),
      state: 'pending',
      attempts: 0,
      createdAt: this.options.now(),
      lastError: null,
    };
    entry.seq = await tx.store.add(entry);
    await tx.done;
    return entry;
  }

  private drain(): Promise<void> {
    if (this.draining !== null) {
      this.again = true;
      return this.draining;
    }
    this.draining = (async () => {
      do {
        this.again = false;
        await this.drainOnce();
      } while (this.again && !this.closed);
    })().finally(() => {
      this.draining = null;
      this.channel.post({ kind: 'drained' });
      this.wakeDrainWaiters();
    });
    return this.draining;
  }

  private async drainOnce(): Promise<void> {
    if (!this.leadership.isLeader || this.closed) return;
    const scopes = new Map<string, OutboxEntry[]>();
    for (const entry of await this.entries()) {
      const list = scopes.get(entry.scope) ?? [];
      list.push(entry);
      scopes.set(entry.scope, list);
    }
    await Promise.all([...scopes.values()].map((entries) => this.drainScope(entries)));
    await this.recount();
  }

  /** Sends one record's rows in order; stops at the first that cannot go now. */
  private async drainScope(entries: OutboxEntry[]): Promise<void> {
    const db = await this.options.storage;
    for (const queued of entries) {
      if (this.closed || !this.leadership.isLeader) return;
      // Re-read: an earlier row of this record may have rewritten this one (version, real id).
      const entry = await db.getFromIndex('outbox', 'id', queued.id);
      if (entry === undefined) continue;
      if (entry.state === 'needsReview') return;
      if (
        this.options.now() - entry.createdAt >
        (this.options.reviewAfter ?? DEFAULT_REVIEW_AFTER)
      ) {
        const flagged = { ...entry, state: 'needsReview' as const };
        await db.put('outbox', flagged);
        this.announce({ kind: 'needsReview', entry: flagged });
        return;
      }
      entry.attempts += 1;
      await db.put('outbox', entry);
      let outcome: SendOutcome;
      try {
        outcome = await sendWrite(
          this.options.records,
          entry.op,
          entry.strategy,
          this.resolvers.get(entry.id),
        );
      } catch (error) {
        const failure = describe(error);
        if (transient(error)) {
          await db.put('outbox', { ...entry, lastError: failure.message });
          // This row and every one behind it on the record wait for the next drain.
          for (const waiting of entries.slice(entries.indexOf(queued)))
            this.announce({ kind: 'deferred', entry: waiting, error: failure });
          return;
        }
        for (const gone of await this.remove(entry)) {
          this.errors.set(gone.id, error);
          this.announce({ kind: 'failed', entry: gone, error: failure });
        }
        continue;
      }
      await this.complete(entry, outcome);
      this.announce({ kind: 'sent', entry, outcome });
    }
  }

  /** Removes a sent row; its followers learn the real id and the version to build on. */
  private async complete(entry: OutboxEntry, outcome: SendOutcome): Promise<void> {
    const db = await this.options.storage;
    const tx = db.transaction('outbox', 'readwrite');
    const record = outcome.record;
    for (const other of await tx.store.index('user').getAll(this.options.user)) {
      if (other.seq === entry.seq || other.scope !== entry.scope || record === null) continue;
      const op = { ...other.op };
      if (entry.op.kind === 'create') op.recordId = record.id;
      if (other.chained) {
        op.expectedVersion = record.version;
        op.baseFields = record.fields;
      }
      await tx.store.put({ ...other, op, scope: record.id, chained: false });
      break; // only the next row builds on this one; the ones after it build on it in turn
    }
    if (entry.op.kind === 'create' && record !== null) {
      // Every row waiting on the temporary id now names the real record.
      for (const other of await tx.store.index('user').getAll(this.options.user)) {
        if (other.scope !== entry.scope || other.seq === entry.seq) continue;
        await tx.store.put({
          ...other,
          scope: record.id,
          op: { ...other.op, recordId: record.id },
        });
      }
    }
    if (entry.seq !== undefined) await tx.store.delete(entry.seq);
    await tx.done;
  }

  /** Deletes `entry`, and for a create every row on its temporary id; the rows removed. */
  private async remove(entry: OutboxEntry): Promise<OutboxEntry[]> {
    const db = await this.options.storage;
    const tx = db.transaction('outbox', 'readwrite');
    const gone: OutboxEntry[] = [];
    for (const other of await tx.store.index('user').getAll(this.options.user)) {
      const dependent = entry.op.kind === 'create' && other.scope === entry.scope;
      if (other.seq !== entry.seq && !dependent) continue;
      if (other.seq !== undefined) await tx.store.delete(other.seq);
      gone.push(other);
    }
    await tx.done;
    return gone;
  }

  private async recount(entries?: OutboxEntry[]): Promise<void> {
    const rows = entries ?? (await this.entries());
    this.count = rows.filter((entry) => entry.state === 'pending').length;
    this.review = rows.filter((entry) => entry.state === 'needsReview');
  }

  private wakeDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const done of waiters) done();
  }

  /** Tells this tab's listeners and the other tabs. */
  private announce(event: OutboxEvent): void {
    this.channel.post(event);
    this.handle(event);
  }

  private receive(message: Message): void {
    if (message.kind === 'drain') {
      if (this.leadership.isLeader) this.background(this.drain());
      return;
    }
    if (message.kind === 'drained') {
      this.wakeDrainWaiters();
      return;
    }
    if (message.kind === 'leader') return;
    if (!this.closed) this.handle(message);
  }

  /**
   * Settles this tab's waiter for the row, keeps `pendingCount` and `needsReview()` current (a
   * drain and `open` recount from the database too), then tells the listeners.
   */
  private handle(event: OutboxEvent): void {
    const id = event.entry.id;
    if (event.kind === 'added') {
      this.count += 1;
      this.review = this.review.filter((entry) => entry.id !== id);
    } else if (event.kind === 'needsReview') {
      this.count = Math.max(0, this.count - 1);
      this.review = [...this.review.filter((entry) => entry.id !== id), event.entry];
    } else if (event.kind === 'sent' || event.kind === 'failed' || event.kind === 'discarded') {
      if (event.entry.state === 'pending') this.count = Math.max(0, this.count - 1);
      this.review = this.review.filter((entry) => entry.id !== id);
    }
    if (event.kind === 'sent') this.settle(id, (waiter) => waiter.resolve(event.outcome));
    else if (event.kind === 'failed' || event.kind === 'discarded')
      this.settle(id, (waiter) =>
        waiter.reject(
          event.kind === 'failed' ? (this.errors.get(id) ?? toError(event.error)) : offline(id),
        ),
      );
    else if (event.kind === 'deferred' || event.kind === 'needsReview') this.defer(id, offline(id));
    this.emit(event);
    if (event.kind === 'sent' || event.kind === 'failed' || event.kind === 'discarded') {
      this.resolvers.delete(id);
      this.errors.delete(id);
    }
  }

  private settle(id: string, how: (waiter: Waiter) => void): void {
    const waiter = this.waiters.get(id);
    if (waiter === undefined) return;
    this.waiters.delete(id);
    how(waiter);
  }

  /** The caller stops waiting (OfflineError); the row stays and is sent later. */
  private defer(id: string, error: OfflineError): void {
    this.settle(id, (waiter) => waiter.reject(error));
  }
}

/** The error a write queued in the outbox is reported with. */
export function offline(entryId: string): OfflineError {
  return new OfflineError('The backend cannot be reached; the write is queued in the outbox.', {
    entryId,
    service: 'record',
  });
}

/** Worth trying again later: no answer, an open breaker, an overloaded or failing backend. */
function transient(error: unknown): boolean {
  return (
    error instanceof APIConnectionError ||
    error instanceof ServerError ||
    error instanceof RateLimitedError
  );
}

function describe(error: unknown): EntryError {
  return error instanceof ServiceError
    ? { type: error.type, message: error.message, code: error.code }
    : { type: 'SERVER_ERROR', message: String(error), code: null };
}

function toError(error: EntryError): ServiceError {
  return new ServiceError(error.message, { type: error.type, code: error.code, service: 'record' });
}
