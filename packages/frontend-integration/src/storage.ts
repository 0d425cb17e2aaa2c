/**
 * The integration's IndexedDB database (through `idb`): the offline outbox, realtime cursors and
 * persisted query caches, each row keyed by the signed-in user.
 *
 * - `outbox`: one row per write, in the order made (auto-incremented `seq`), unique by its
 *   idempotency key `id` (InstantDB #2854: one row per operation, never one blob).
 * - `cursors`: the last realtime `seq` seen, per user.
 * - `queries`: a user's dehydrated query cache and the cursor it was current at.
 *
 * IndexedDB transactions are atomic across tabs, so any tab may write; `openStorage` is shared
 * by the Service Worker entry (`/sw`).
 */
import { type DBSchema, type IDBPDatabase, openDB } from 'idb';
import type { StrategyName } from './mutation/conflict.js';
import type { WriteOp } from './mutation/send.js';

export const DATABASE_NAME = 'pyairtable-integration';
const VERSION = 1;

export type EntryState = 'pending' | 'needsReview';

/** One queued write. */
export interface OutboxEntry {
  seq?: number;
  /** The write's idempotency key (and its update id). */
  id: string;
  user: string;
  /** The record it writes (a create's temporary id until the server answers). */
  scope: string;
  op: WriteOp;
  /** How a 409 is resolved on replay (a resolver function stays in the tab that made it). */
  strategy: StrategyName;
  /** Queued behind another write of the same record: sent with the version that one produced. */
  chained: boolean;
  state: EntryState;
  attempts: number;
  /** Milliseconds since the epoch: entries past the backend's key lifetime need review. */
  createdAt: number;
  lastError: string | null;
}

export interface PersistedQueries {
  user: string;
  savedAt: number;
  cursor: number | null;
  state: unknown;
}

interface Schema extends DBSchema {
  outbox: {
    key: number;
    value: OutboxEntry;
    indexes: { id: string; user: string };
  };
  cursors: { key: string; value: { user: string; cursor: number } };
  queries: { key: string; value: PersistedQueries };
}

export type Storage = IDBPDatabase<Schema>;

/** Opens (creating or upgrading) the database. @throws DOMException IndexedDB refused. */
export function openStorage(name = DATABASE_NAME): Promise<Storage> {
  return openDB<Schema>(name, VERSION, {
    upgrade(db) {
      const outbox = db.createObjectStore('outbox', { keyPath: 'seq', autoIncrement: true });
      outbox.createIndex('id', 'id', { unique: true });
      outbox.createIndex('user', 'user');
      db.createObjectStore('cursors', { keyPath: 'user' });
      db.createObjectStore('queries', { keyPath: 'user' });
    },
  });
}

/** Whether this platform has IndexedDB. */
export function hasIndexedDB(): boolean {
  return typeof (globalThis as { indexedDB?: unknown }).indexedDB === 'object';
}

/** A user's queued writes, oldest first. */
export async function entriesOf(db: Storage, user: string): Promise<OutboxEntry[]> {
  return db.getAllFromIndex('outbox', 'user', user);
}

export async function readCursor(db: Storage, user: string): Promise<number | null> {
  return (await db.get('cursors', user))?.cursor ?? null;
}

export async function writeCursor(db: Storage, user: string, cursor: number): Promise<void> {
  const tx = db.transaction('cursors', 'readwrite');
  const known = await tx.store.get(user);
  if (known === undefined || known.cursor < cursor) await tx.store.put({ user, cursor });
  await tx.done;
}

/** Forgets everything kept for `user` but the outbox (sign-out). */
export async function purgeUser(db: Storage, user: string): Promise<void> {
  const tx = db.transaction(['cursors', 'queries'], 'readwrite');
  await Promise.all([
    tx.objectStore('cursors').delete(user),
    tx.objectStore('queries').delete(user),
  ]);
  await tx.done;
}
