'use client';
/**
 * Write hooks over the core's one record mutation (`pa.mutate`) and its offline outbox.
 *
 * `useOptimisticUpdate` shows a write at once in every cached view holding the record (the
 * core's overlay, applied by the data hooks), sends it in order with `If-Match`, and takes it
 * off only when server data reaches the written version; `rollback()` withdraws a write still
 * shown. `useOutbox` follows the offline outbox: writes waiting to be sent, rows needing review.
 */
import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import type { PendingUpdate } from '../cache/overlay.js';
import { ErrorHandler, OfflineError } from '../errors.js';
import type { PyAirtableIntegration } from '../integration.js';
import type { MutationOptions, MutationResult, RecordWrite } from '../mutation/mutations.js';
import type { OutboxEntry } from '../storage.js';
import { usePyAirtable } from './context.js';

export type UpdateStatus = 'idle' | 'pending' | 'queued' | 'success' | 'error';

export interface OptimisticUpdateOptions extends Omit<MutationOptions, 'idempotencyKey'> {
  /** Tries again this many times when the failure may pass (`ErrorHandler.isRetryable`). */
  maxRetries?: number;
}

export interface OptimisticUpdate<TVariables> {
  /** Sends the write for `variables`; resolves with its result, null when it is queued offline. */
  mutate(variables: TVariables): Promise<MutationResult | null>;
  /** A write of this hook is being shown before the server confirmed it. */
  isOptimistic: boolean;
  /** Withdraws the shown, unconfirmed writes of this hook. */
  rollback(): void;
  status: UpdateStatus;
  error: unknown;
  /** The last result (the record as the server has it, and how a conflict was resolved). */
  result: MutationResult | null;
}

/**
 * An optimistic record write. `toWrite` turns the caller's variables into the write (by default
 * the variables are the write: `{kind: 'update', recordId, fields}`...).
 */
export function useOptimisticUpdate<TVariables = RecordWrite>(
  toWrite: (variables: TVariables) => RecordWrite = (variables) => variables as RecordWrite,
  options: OptimisticUpdateOptions = {},
): OptimisticUpdate<TVariables> {
  const pa = usePyAirtable();
  const [state, setState] = useState<{
    status: UpdateStatus;
    error: unknown;
    result: MutationResult | null;
  }>({ status: 'idle', error: null, result: null });
  const [shown, setShown] = useState<ReadonlySet<string>>(() => new Set());
  const latest = useRef({ toWrite, options });
  useEffect(() => {
    latest.current = { toWrite, options };
  });
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);
  // The overlay entry of a write comes off when the server data catches up (or on rollback).
  useEffect(() => {
    if (shown.size === 0) return;
    const overlay = pa.cache?.overlay;
    if (overlay === undefined) return;
    const check = (): void => {
      const still = new Set([...shown].filter((id) => overlay.get(id) !== undefined));
      if (still.size !== shown.size) setShown(still);
    };
    check();
    return overlay.subscribe(check);
  }, [pa, shown]);

  const mutate = useCallback(
    async (variables: TVariables): Promise<MutationResult | null> => {
      const { toWrite: build, options: current } = latest.current;
      const { maxRetries = 0, ...mutation } = current;
      const write = build(variables);
      const updateId = crypto.randomUUID();
      if (mounted.current) {
        setState((previous) => ({ ...previous, status: 'pending', error: null }));
        setShown((previous) => new Set(previous).add(updateId));
      }
      for (let attempt = 0; ; attempt += 1) {
        try {
          const result = await pa.mutate(write, {
            optimistic: true,
            ...mutation,
            // A retry is the same logical write: the same key, so it is applied once.
            idempotencyKey: updateId,
          });
          if (mounted.current) setState({ status: 'success', error: null, result });
          return result;
        } catch (error) {
          if (error instanceof OfflineError && pa.offline !== null) {
            if (mounted.current) setState({ status: 'queued', error: null, result: null });
            return null;
          }
          if (attempt < maxRetries && ErrorHandler.isRetryable(error)) continue;
          if (mounted.current) setState({ status: 'error', error, result: null });
          throw error;
        }
      }
    },
    [pa],
  );

  const rollback = useCallback(() => {
    for (const id of shown) pa.optimistic.rollbackUpdate(id);
    setShown(new Set());
  }, [pa, shown]);

  return { mutate, rollback, isOptimistic: shown.size > 0, ...state };
}

export interface OutboxState {
  /** Writes stored and not yet confirmed by the server (0 without offline support). */
  pendingCount: number;
  /** Rows too old to replay blindly: `retry(id)` or `discard(id)` each. */
  needsReview: OutboxEntry[];
  /** This tab sends the outbox (one leader per user and origin). */
  isLeader: boolean;
  /** The outbox is there (`features.enableOfflineSupport`, IndexedDB, signed in). */
  enabled: boolean;
  sync(): Promise<void>;
  retry(id: string): Promise<void>;
  discard(id: string): Promise<void>;
}

interface OutboxSnapshot {
  pendingCount: number;
  needsReview: OutboxEntry[];
  isLeader: boolean;
  enabled: boolean;
}

const EMPTY: OutboxSnapshot = { pendingCount: 0, needsReview: [], isLeader: false, enabled: false };

/** Snapshots of `pa.offline`, stable between changes (for `useSyncExternalStore`). */
function outboxStore(pa: PyAirtableIntegration) {
  let snapshot = EMPTY;
  const read = (): OutboxSnapshot => {
    const outbox = pa.offline;
    if (outbox === null) return EMPTY;
    const next = {
      pendingCount: outbox.pendingCount,
      needsReview: outbox.needsReview(),
      isLeader: outbox.isLeader,
      enabled: true,
    };
    const same =
      snapshot.enabled &&
      snapshot.pendingCount === next.pendingCount &&
      snapshot.isLeader === next.isLeader &&
      snapshot.needsReview.length === next.needsReview.length &&
      snapshot.needsReview.every((entry, i) => entry.id === next.needsReview[i]?.id);
    if (!same) snapshot = next;
    return snapshot;
  };
  return {
    getSnapshot: read,
    subscribe(listener: () => void): () => void {
      let stopOutbox: (() => void) | null = null;
      const attach = (): void => {
        stopOutbox?.();
        stopOutbox = pa.offline?.subscribe(() => listener()) ?? null;
        listener();
      };
      attach();
      // The outbox opens at sign-in and closes at sign-out.
      const stopSession = pa.auth.onSessionChange(() => queueMicrotask(attach));
      return () => {
        stopSession();
        stopOutbox?.();
      };
    },
  };
}

const stores = new WeakMap<PyAirtableIntegration, ReturnType<typeof outboxStore>>();

/** The offline outbox: pending writes, rows needing review, and what can be done with them. */
export function useOutbox(): OutboxState {
  const pa = usePyAirtable();
  let store = stores.get(pa);
  if (store === undefined) {
    store = outboxStore(pa);
    stores.set(pa, store);
  }
  const snapshot = useSyncExternalStore(store.subscribe, store.getSnapshot, () => EMPTY);
  const sync = useCallback(async () => pa.offline?.sync(), [pa]);
  const retry = useCallback(async (id: string) => pa.offline?.retry(id), [pa]);
  const discard = useCallback(async (id: string) => pa.offline?.discard(id), [pa]);
  return { ...snapshot, sync, retry, discard };
}

/** The optimistic writes shown now and not yet confirmed (every view shows them). */
export function usePendingUpdates(): PendingUpdate[] {
  const pa = usePyAirtable();
  const [updates, setUpdates] = useState<PendingUpdate[]>(() => pa.optimistic.getPendingUpdates());
  useEffect(() => {
    const read = (): void => setUpdates(pa.optimistic.getPendingUpdates());
    read();
    const stopOverlay = pa.cache?.overlay.subscribe(read);
    const stopOutcomes = pa.optimistic.subscribe(read);
    return () => {
      stopOverlay?.();
      stopOutcomes();
    };
  }, [pa]);
  return updates;
}
