/**
 * Keeping one user's query cache, and the realtime cursor, in IndexedDB across reloads.
 *
 * The cache is saved with query-core's `dehydrate` (successful queries of ours only), at most
 * once per `throttle` and at `flush`, together with the realtime cursor it is current at; a
 * restore hydrates it and says that cursor, so the feed resumes from it and every event since
 * patches the restored lists (a cursor past retention resets, which invalidates). The cursor is
 * also saved on its own (`CursorStore`), so subscriptions resume after a reload without a cache.
 * Rows are keyed by user: another user never sees them, and sign-out deletes them.
 * (TanStack's `persistQueryClient` does the same over a storage adapter; this one also keeps
 * the cursor in the same row, which the adapter cannot.)
 */
import { dehydrate, hydrate } from '@tanstack/query-core';
import { purgeUser, readCursor, type Storage, writeCursor } from '../storage.js';
import { ROOT } from './keys.js';
import type { CacheSync } from './sync.js';

export const DEFAULT_PERSIST_THROTTLE = 1000;
/** A snapshot older than this is not restored (TanStack's `maxAge` default). */
export const DEFAULT_PERSIST_MAX_AGE = 24 * 60 * 60_000;

/** Coalesces calls into at most one run per `wait` ms, the last call's value winning. */
function throttled<T>(wait: number, run: (value: T) => Promise<void>) {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let latest: { value: T } | null = null;
  const fire = async (): Promise<void> => {
    timer = null;
    const next = latest;
    latest = null;
    if (next !== null) await run(next.value);
  };
  return {
    push(value: T): void {
      latest = { value };
      timer ??= setTimeout(() => void fire().catch(() => undefined), wait);
    },
    async flush(): Promise<void> {
      if (timer !== null) clearTimeout(timer);
      await fire();
    },
  };
}

/** The last realtime `seq` seen by a user, saved at most once per `throttle`. */
export class CursorStore {
  private readonly writes;

  constructor(
    private readonly storage: Promise<Storage>,
    private readonly user: string,
    throttle = DEFAULT_PERSIST_THROTTLE,
  ) {
    this.writes = throttled<number>(throttle, async (cursor) =>
      writeCursor(await this.storage, this.user, cursor),
    );
  }

  async read(): Promise<number | null> {
    return readCursor(await this.storage, this.user);
  }

  save(cursor: number): void {
    this.writes.push(cursor);
  }

  flush(): Promise<void> {
    return this.writes.flush();
  }

  /** Deletes everything kept for the user but the outbox (sign-out). */
  async purge(): Promise<void> {
    await purgeUser(await this.storage, this.user);
  }
}

export class QueryPersister {
  private readonly writes;
  private stop: (() => void) | null = null;

  constructor(
    private readonly options: {
      storage: Promise<Storage>;
      user: string;
      cache: CacheSync;
      /** The realtime cursor the cache is current at now. */
      cursor: () => number | null;
      now: () => number;
      throttle?: number;
      maxAge?: number;
    },
  ) {
    this.writes = throttled<null>(options.throttle ?? DEFAULT_PERSIST_THROTTLE, () => this.save());
  }

  /** Hydrates the user's saved cache; the cursor it was current at (null: nothing restored). */
  async restore(): Promise<number | null> {
    const db = await this.options.storage;
    const saved = await db.get('queries', this.options.user);
    if (saved === undefined) return null;
    if (this.options.now() - saved.savedAt > (this.options.maxAge ?? DEFAULT_PERSIST_MAX_AGE)) {
      await db.delete('queries', this.options.user);
      return null;
    }
    hydrate(this.options.cache.queryClient, saved.state as Parameters<typeof hydrate>[1]);
    this.options.cache.reindex();
    return saved.cursor;
  }

  /** Saves after every change of the cache (throttled) until `close`. */
  start(): void {
    this.stop ??= this.options.cache.queryClient.getQueryCache().subscribe((event) => {
      if (event.type === 'updated' || event.type === 'removed') this.writes.push(null);
    });
  }

  /** Saves now what is pending. */
  flush(): Promise<void> {
    return this.writes.flush();
  }

  close(): void {
    this.stop?.();
    this.stop = null;
  }

  /** Stops and deletes everything kept for the user (sign-out). */
  async purge(): Promise<void> {
    this.close();
    await purgeUser(await this.options.storage, this.options.user);
  }

  private async save(): Promise<void> {
    if (this.stop === null) return;
    const state = dehydrate(this.options.cache.queryClient, {
      shouldDehydrateQuery: (query) =>
        query.state.status === 'success' &&
        query.queryKey[0] === ROOT &&
        !query.state.isInvalidated,
    });
    const db = await this.options.storage;
    await db.put('queries', {
      user: this.options.user,
      savedAt: this.options.now(),
      cursor: this.options.cursor(),
      state,
    });
  }
}
