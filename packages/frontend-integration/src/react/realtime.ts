'use client';
/**
 * Realtime hooks over `useSyncExternalStore`: the connection's state, and subscriptions that
 * live exactly as long as the component (subscribed in an effect, unsubscribed in its cleanup;
 * the connection disconnects when its last subscription goes).
 */
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import type { ConnectionSnapshot, EventFilter, Subscription } from '../realtime/connection.js';
import type { AirtableEvent } from '../types/index.js';
import { usePyAirtable } from './context.js';

const IDLE: ConnectionSnapshot = { state: 'idle', transport: null, cursor: null, failures: 0 };

export interface RealtimeOptions {
  /** `record`, `field`, `view`, `table`, `base`, `workspace`, or `*` (every channel). */
  channel?: string;
  filters?: Omit<EventFilter, 'channel'>;
  /** Events were lost past the server's retention: refetch what this component shows. */
  onReset?: () => void;
  /** Subscribe only while true. */
  enabled?: boolean;
}

export interface RealtimeStatus {
  /** The connection is live (WebSocket) or on a fallback transport (SSE, polling). */
  connected: boolean;
  /** This component's subscription is confirmed: no event after this point is missed. */
  subscribed: boolean;
  /** The connection's state, transport and cursor. */
  state: ConnectionSnapshot;
}

function useConnectionSnapshot(): ConnectionSnapshot {
  const pa = usePyAirtable();
  const subscribe = useCallback(
    (listener: () => void) => pa.realtime.onStateChange(listener),
    [pa],
  );
  const snapshot = useCallback(() => pa.realtime.getState(), [pa]);
  return useSyncExternalStore(subscribe, snapshot, () => IDLE);
}

/**
 * Calls `callback` with every event matching `channel` and `filters`, in order, once each, while
 * the component is mounted. The latest `callback` is called (it need not be memoised).
 */
export function useRealtime(
  options: RealtimeOptions,
  callback: (event: AirtableEvent) => void,
): RealtimeStatus {
  const pa = usePyAirtable();
  const latest = useRef({ callback, onReset: options.onReset });
  useEffect(() => {
    latest.current = { callback, onReset: options.onReset };
  });
  const state = useConnectionSnapshot();
  const enabled = (options.enabled ?? true) && pa.config.features.enableRealtime;
  // Compared by value: a literal `{ channel, filters }` each render must not resubscribe.
  const filterKey = JSON.stringify({
    ...options.filters,
    ...(options.channel ? { channel: options.channel } : {}),
  });
  const filter = useMemo(() => JSON.parse(filterKey) as EventFilter, [filterKey]);
  const [subscription, setSubscription] = useState<Subscription | null>(null);
  useEffect(() => {
    if (!enabled) return;
    const current = pa.realtime.subscribe(
      { ...filter, onReset: () => latest.current.onReset?.() },
      (event) => latest.current.callback(event),
    );
    setSubscription(current);
    return () => {
      current.unsubscribe();
      setSubscription((shown) => (shown === current ? null : shown));
    };
  }, [pa, filter, enabled]);
  const connected = state.state === 'live' || state.state === 'fallback';
  return { connected, subscribed: connected && subscription?.state === 'live', state };
}

/** The connection's state and whether the backend is reachable, re-rendering on every change. */
export function useConnectionState(): ConnectionSnapshot & { online: boolean } {
  const pa = usePyAirtable();
  const realtime = useConnectionSnapshot();
  const subscribe = useCallback((listener: () => void) => pa.online.subscribe(listener), [pa]);
  const online = useSyncExternalStore(
    subscribe,
    () => pa.online.isOnline(),
    () => true,
  );
  return useMemo(() => ({ ...realtime, online }), [realtime, online]);
}
