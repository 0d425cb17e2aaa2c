/**
 * One realtime connection for all tabs of an origin and user.
 *
 * The tab holding the Web Lock leads: its `RealtimeConnection` runs the real ladder (WebSocket,
 * SSE, polling) and posts every event, reset and state change on a BroadcastChannel. Every
 * other tab's connection runs on one more transport, `tab`, that reads that channel: it says
 * `hello` (the leader keeps its connection while any tab is subscribed: reference counts by
 * tab), waits for the leader to be live, fetches what it missed since its own cursor from the
 * event log, then passes the leader's events on. The follower's connection keeps its own cursor
 * and drops anything at or below it, so every event arrives once and in order.
 *
 * When the leader goes away its lock passes to a waiting tab, which switches its connection to
 * the real ladder (resuming from its cursor) and announces itself; the other tabs restart their
 * `tab` stream, catching up from their cursors.
 */
import { NetworkError } from '../errors.js';
import type { EventService } from '../services/events.js';
import { Leadership, type LockRequest, TabChannel, tabId } from '../tabs.js';
import type { AirtableEvent } from '../types/index.js';
import type { ConnectionSnapshot, RealtimeConnection, Subscription } from './connection.js';
import { type Frame, FrameQueue, type FrameSource } from './frames.js';

type TabMessage =
  | { kind: 'hello' | 'bye' | 'leader'; tab: string }
  | { kind: 'state'; tab: string; snapshot: ConnectionSnapshot }
  | { kind: 'event'; event: AirtableEvent }
  | { kind: 'reset'; position: number };

const CATCH_UP_PAGE = 1000;

export class SharedConnection {
  readonly tab = tabId();
  private readonly channel: TabChannel<TabMessage>;
  private readonly leadership: Leadership;
  private readonly followers = new Set<(message: TabMessage) => void>();
  /** Tabs subscribed through this leader. */
  private readonly remoteTabs = new Set<string>();
  private tap: Subscription | null = null;
  private stopState: (() => void) | null = null;
  private readonly onPageHide = (): void => this.channel.post({ kind: 'bye', tab: this.tab });

  constructor(
    readonly connection: RealtimeConnection,
    private readonly ladder: FrameSource[],
    private readonly options: { name: string; events: EventService; locks?: LockRequest | null },
  ) {
    this.channel = new TabChannel<TabMessage>(options.name, (message) => this.receive(message));
    connection.useSources([this.followerSource()]);
    this.leadership = new Leadership(
      options.name,
      (leading) => {
        if (leading) this.lead();
      },
      options.locks,
    );
    this.leadership.start();
    (globalThis as unknown as Partial<Window>).addEventListener?.('pagehide', this.onPageHide);
  }

  get isLeader(): boolean {
    return this.leadership.isLeader;
  }

  /** Tabs this leader keeps its connection open for. */
  get subscribedTabs(): number {
    return this.remoteTabs.size;
  }

  /** Leaves: the lock passes to another tab; this tab's connection is closed by its owner. */
  close(): void {
    this.onPageHide();
    (globalThis as unknown as Partial<Window>).removeEventListener?.('pagehide', this.onPageHide);
    this.tap?.unsubscribe();
    this.stopState?.();
    this.leadership.resign();
    this.channel.close();
  }

  private lead(): void {
    this.connection.useSources(this.ladder);
    this.connection.reconnectNow();
    this.stopState = this.connection.subscribe((snapshot) =>
      this.channel.post({ kind: 'state', tab: this.tab, snapshot }),
    );
    this.channel.post({ kind: 'leader', tab: this.tab });
  }

  private receive(message: TabMessage): void {
    if (this.leadership.isLeader) {
      if (message.kind === 'hello') {
        this.remoteTabs.add(message.tab);
        this.tap ??= this.connection.subscribeEvents(
          {
            onReset: () =>
              this.channel.post({ kind: 'reset', position: this.connection.snapshot.cursor ?? 0 }),
          },
          (event) => this.channel.post({ kind: 'event', event }),
        );
        this.channel.post({ kind: 'state', tab: this.tab, snapshot: this.connection.snapshot });
      } else if (message.kind === 'bye') {
        this.remoteTabs.delete(message.tab);
        if (this.remoteTabs.size === 0) {
          this.tap?.unsubscribe();
          this.tap = null;
        }
      }
      return;
    }
    for (const follower of [...this.followers]) follower(message);
  }

  /** The `tab` transport: the leader's stream, after catching up from `since`. */
  private followerSource(): FrameSource {
    return {
      name: 'tab',
      open: (since, signal) => this.follow(since, signal),
    };
  }

  private async *follow(since: number | null, signal: AbortSignal): AsyncGenerator<Frame> {
    const queue = new FrameQueue();
    let buffered: Frame[] | null = [];
    let started = false;
    const forward = (frame: Frame): void => {
      if (buffered !== null) buffered.push(frame);
      else queue.push(frame);
    };
    const start = async (position: number | null): Promise<void> => {
      queue.push({ kind: 'ready', position });
      let cursor = since;
      while (cursor !== null) {
        const page = await this.options.events.getEvents(
          { since: cursor, limit: CATCH_UP_PAGE },
          { signal },
        );
        if (page.reset) {
          queue.push({ kind: 'reset', position: page.next_since });
          break;
        }
        for (const event of page.data) queue.push({ kind: 'event', event });
        cursor = page.data.length < CATCH_UP_PAGE ? null : page.next_since;
      }
      for (const frame of buffered ?? []) queue.push(frame);
      buffered = null;
    };
    const listener = (message: TabMessage): void => {
      if (message.kind === 'event') forward({ kind: 'event', event: message.event });
      else if (message.kind === 'reset') forward({ kind: 'reset', position: message.position });
      else if (message.kind === 'leader')
        queue.fail(new NetworkError('The leading tab changed.', { service: 'realtime' }));
      else if (message.kind === 'state' && !started) {
        const { state, cursor } = message.snapshot;
        if (state !== 'live' && state !== 'fallback') return;
        started = true;
        start(cursor).catch((error: unknown) => queue.fail(error));
      }
    };
    this.followers.add(listener);
    const onAbort = (): void => queue.fail(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    this.channel.post({ kind: 'hello', tab: this.tab });
    try {
      yield* queue.drain();
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.followers.delete(listener);
      this.channel.post({ kind: 'bye', tab: this.tab });
    }
  }
}
