/**
 * The realtime connection: one stream of every event the user may see, on one `seq` cursor,
 * whichever transport carries it. It owns every invariant: an event is delivered once and in
 * order (anything at or below the cursor is dropped), a reconnect or a switch of transport
 * resumes from the cursor, a `reset` (gap past retention) is passed on so data is refetched.
 *
 * Ladder: WebSocket, then SSE, then polling. After `failuresToFall` failures in a row on one
 * rung it steps down; while below the top it probes the top again every `probeDelay`. Waits
 * between attempts are jittered exponential backoff. Subscriptions are filters over the one
 * stream, matched on the event's top-level fields (as the server matches them).
 */
import type { RealtimeConfig } from '../config.js';
import { AuthenticationError } from '../errors.js';
import { Subscribable } from '../subscribable.js';
import type { TokenSource } from '../transport/client.js';
import type { AirtableEvent } from '../types/index.js';
import { type FrameSource, SocketClosedError, type TransportName } from './frames.js';

export type ConnectionState =
  | 'idle'
  | 'connecting'
  | 'live'
  | 'fallback'
  | 'offline'
  | 'needsAuth'
  | 'closed';
export type SubscriptionState = 'pending' | 'live' | 'reset';

export interface ConnectionSnapshot {
  state: ConnectionState;
  transport: TransportName | null;
  cursor: number | null;
  failures: number;
}

export interface EventFilter {
  channel?: string;
  workspaceId?: string;
  baseId?: string;
  tableId?: string;
  aggregateId?: string;
}

export interface SubscribeOptions extends EventFilter {
  /** Called when events were lost past retention: refetch what this subscription shows. */
  onReset?: () => void;
}

export interface Subscription {
  readonly state: SubscriptionState;
  unsubscribe(): void;
}

interface Entry {
  filter: EventFilter;
  callback: (event: AirtableEvent) => void;
  onReset: (() => void) | undefined;
  state: SubscriptionState;
}

export function matchesFilter(event: AirtableEvent, filter: EventFilter): boolean {
  if (filter.channel && filter.channel !== '*' && event.channel !== filter.channel) return false;
  if (filter.workspaceId && event.workspace_id !== filter.workspaceId) return false;
  if (filter.baseId && event.base_id !== filter.baseId) return false;
  if (filter.tableId && event.table_id !== filter.tableId) return false;
  if (filter.aggregateId && event.aggregate_id !== filter.aggregateId) return false;
  return true;
}

export class RealtimeConnection extends Subscribable<(snapshot: ConnectionSnapshot) => void> {
  private readonly entries = new Set<Entry>();
  private snapshotValue: ConnectionSnapshot = {
    state: 'idle',
    transport: null,
    cursor: null,
    failures: 0,
  };
  private runner: AbortController | null = null;
  private probe: AbortController | null = null;
  private rung = 0;

  constructor(
    private sources: FrameSource[],
    private readonly options: {
      config: RealtimeConfig;
      tokens: TokenSource;
      sleep: (ms: number, signal: AbortSignal) => Promise<void>;
      random?: () => number;
      /** Where the cursor starts (a persisted one, or an SSR list's `event_position`). */
      since?: number | null;
      onCursor?: (cursor: number) => void;
      onReset?: () => void;
      onLive?: () => void;
    },
  ) {
    super();
    this.snapshotValue = { ...this.snapshotValue, cursor: options.since ?? null };
  }

  get snapshot(): ConnectionSnapshot {
    return this.snapshotValue;
  }

  get subscriptionCount(): number {
    return this.entries.size;
  }

  /** Calls `callback` for each matching event, in order, once each; connects on first use. */
  subscribeEvents(
    options: SubscribeOptions,
    callback: (event: AirtableEvent) => void,
  ): Subscription {
    const { onReset, ...filter } = options;
    const entry: Entry = { filter, callback, onReset, state: this.isLive() ? 'live' : 'pending' };
    this.entries.add(entry);
    this.connect();
    return {
      get state() {
        return entry.state;
      },
      unsubscribe: () => {
        this.entries.delete(entry);
        if (this.entries.size === 0) this.disconnect();
      },
    };
  }

  /**
   * Resumes from `cursor` (a persisted one, a restored cache's) unless this connection has a
   * cursor already; takes effect on the next stream it opens.
   */
  resumeFrom(cursor: number): void {
    if (this.snapshotValue.cursor === null) this.set({ cursor });
  }

  /** Starts the connection (idempotent). */
  connect(): void {
    if (this.runner !== null || this.snapshotValue.state === 'closed') return;
    const runner = new AbortController();
    this.runner = runner;
    void this.run(runner.signal);
  }

  /** Stops the connection; subscriptions stay and resume from the cursor on `connect`. */
  disconnect(): void {
    this.runner?.abort();
    this.runner = null;
    this.probe?.abort();
    this.probe = null;
    if (this.snapshotValue.state !== 'closed') this.set({ state: 'idle', transport: null });
  }

  /** Stops for good. */
  close(): void {
    this.disconnect();
    this.entries.clear();
    this.set({ state: 'closed' });
  }

  /** Replaces the transport ladder (a tab taking over the shared connection); `reconnectNow` to switch. */
  useSources(sources: FrameSource[]): void {
    this.sources = sources;
    this.rung = 0;
  }

  /** Forces the current stream to end (the network dropped); it resumes from the cursor. */
  reconnectNow(): void {
    this.probe?.abort();
  }

  private isLive(): boolean {
    return this.snapshotValue.state === 'live' || this.snapshotValue.state === 'fallback';
  }

  private set(patch: Partial<ConnectionSnapshot>): void {
    this.snapshotValue = { ...this.snapshotValue, ...patch };
    this.emit(this.snapshotValue);
  }

  private async run(signal: AbortSignal): Promise<void> {
    const { config } = this.options;
    let failures = 0;
    let attempt = 0;
    while (!signal.aborted) {
      const source = this.sources[Math.min(this.rung, this.sources.length - 1)];
      if (source === undefined) return;
      this.set({ state: 'connecting', transport: source.name, failures });
      const stream = new AbortController();
      this.probe = stream;
      const onStop = (): void => stream.abort();
      signal.addEventListener('abort', onStop, { once: true });
      let probeTimer: ReturnType<typeof setTimeout> | null = null;
      let reachedReady = false;
      try {
        for await (const frame of source.open(this.snapshotValue.cursor, stream.signal)) {
          if (frame.kind === 'ready') {
            reachedReady = true;
            failures = 0;
            attempt = 0;
            if (this.snapshotValue.cursor === null && frame.position !== null)
              this.advance(frame.position);
            for (const entry of this.entries) if (entry.state === 'pending') entry.state = 'live';
            this.set({ state: this.rung === 0 ? 'live' : 'fallback', failures: 0 });
            this.options.onLive?.();
            if (this.rung > 0 && probeTimer === null) {
              // Below the top rung: end this stream after a while to try the top again.
              probeTimer = setTimeout(() => {
                this.rung = 0;
                stream.abort();
              }, config.probeDelay);
            }
          } else if (frame.kind === 'event') {
            this.deliver(frame.event);
          } else {
            this.reset(frame.position);
          }
        }
      } catch (error) {
        if (signal.aborted) break;
        if (
          error instanceof AuthenticationError ||
          (error instanceof SocketClosedError && error.closeCode === 4401)
        ) {
          const fresh = await this.options.tokens
            .getToken({ forceRefresh: true })
            .catch(() => null);
          if (fresh === null) {
            this.set({ state: 'needsAuth' });
            return;
          }
        }
      } finally {
        signal.removeEventListener('abort', onStop);
        if (probeTimer !== null) clearTimeout(probeTimer);
      }
      if (signal.aborted) break;
      if (stream.signal.aborted && reachedReady) continue; // a probe up or a forced reconnect
      failures += 1;
      attempt += 1;
      if (
        !reachedReady &&
        failures >= config.failuresToFall &&
        this.rung < this.sources.length - 1
      ) {
        this.rung += 1;
        failures = 0;
      } else if (!reachedReady && this.rung === 0 && failures === 0) {
        // stepping back down after a failed probe
      }
      const offline = this.rung === this.sources.length - 1 && failures >= config.failuresToFall;
      for (const entry of this.entries) if (entry.state === 'live') entry.state = 'pending';
      this.set({ state: offline ? 'offline' : 'connecting', failures });
      const ceiling = Math.min(
        config.reconnectMaxDelay,
        config.reconnectDelay * 2 ** Math.max(attempt - 1, 0),
      );
      const wait = ceiling / 2 + (this.options.random ?? Math.random)() * (ceiling / 2);
      try {
        await this.options.sleep(wait, signal);
      } catch {
        break;
      }
    }
  }

  private advance(cursor: number): void {
    this.set({ cursor });
    this.options.onCursor?.(cursor);
  }

  private deliver(event: AirtableEvent): void {
    const cursor = this.snapshotValue.cursor;
    if (cursor !== null && event.seq <= cursor) return; // seen already: once, in order
    this.snapshotValue = { ...this.snapshotValue, cursor: event.seq };
    this.options.onCursor?.(event.seq);
    for (const entry of [...this.entries]) {
      if (!matchesFilter(event, entry.filter)) continue;
      try {
        entry.callback(event);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }

  private reset(position: number): void {
    this.advance(position);
    this.options.onReset?.();
    for (const entry of [...this.entries]) {
      entry.state = 'reset';
      try {
        entry.onReset?.();
      } catch (error) {
        this.onListenerError(error);
      }
      entry.state = 'live';
    }
  }
}

/**
 * Delivers events in bursts: everything that arrived within `windowMs` of the first, as one
 * array (the original design's event batching).
 */
export function batched(
  callback: (events: AirtableEvent[]) => void,
  windowMs: number,
): { push: (event: AirtableEvent) => void; flush: () => void } {
  let pending: AirtableEvent[] = [];
  let timer: ReturnType<typeof setTimeout> | null = null;
  const flush = (): void => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    const events = pending;
    pending = [];
    if (events.length > 0) callback(events);
  };
  return {
    push(event) {
      pending.push(event);
      timer ??= setTimeout(flush, windowMs);
    },
    flush,
  };
}
