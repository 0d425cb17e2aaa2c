/**
 * Coordination between the tabs of one origin: a leader chosen with Web Locks and notices over
 * BroadcastChannel (what TanStack offline-transactions and the anchors use).
 *
 * `Leadership` asks for an exclusive lock and holds it until released or the tab goes away;
 * the browser hands it to the next waiting tab then, so exactly one tab leads at a time. Where
 * Web Locks are missing (Node, old browsers) the one process is its own leader. `TabChannel`
 * is a BroadcastChannel that never throws when the platform has none.
 */
export type LockRequest = (
  name: string,
  options: { mode: 'exclusive'; signal?: AbortSignal },
  callback: () => Promise<void>,
) => Promise<unknown>;

/** The platform's `navigator.locks.request`, or null. */
export function platformLocks(): LockRequest | null {
  const locks = (globalThis as { navigator?: { locks?: { request: LockRequest } } }).navigator
    ?.locks;
  return locks ? (name, options, callback) => locks.request(name, options, callback) : null;
}

export class Leadership {
  private leading = false;
  private release: (() => void) | null = null;
  private readonly stop = new AbortController();

  constructor(
    private readonly name: string,
    private readonly onChange: (leading: boolean) => void,
    private readonly request: LockRequest | null = platformLocks(),
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  /** Starts waiting for the lock (at once the leader without Web Locks). */
  start(): void {
    if (this.request === null) {
      this.set(true);
      return;
    }
    this.request(this.name, { mode: 'exclusive', signal: this.stop.signal }, () => {
      if (this.stop.signal.aborted) return Promise.resolve();
      this.set(true);
      return new Promise<void>((done) => {
        this.release = done;
      });
    }).catch(() => undefined); // aborted while waiting
  }

  /** Gives the lock up (the next tab takes over) and stops waiting for it. */
  resign(): void {
    this.stop.abort();
    this.release?.();
    this.release = null;
    this.set(false);
  }

  private set(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    this.onChange(leading);
  }
}

/** A BroadcastChannel that is a no-op where there is none. */
export class TabChannel<T> {
  private channel: BroadcastChannel | null;

  constructor(name: string, onMessage: (message: T) => void) {
    const Channel = (globalThis as { BroadcastChannel?: typeof BroadcastChannel }).BroadcastChannel;
    this.channel = Channel ? new Channel(name) : null;
    if (this.channel !== null)
      this.channel.onmessage = (event: MessageEvent) => onMessage(event.data as T);
  }

  /** Posts to the other tabs (nothing after `close`). */
  post(message: T): void {
    this.channel?.postMessage(message);
  }

  close(): void {
    this.channel?.close();
    this.channel = null;
  }
}

/** A random id for this tab (messages name their sender). */
export function tabId(): string {
  return Math.random().toString(36).slice(2) + Date.now().toString(36);
}
