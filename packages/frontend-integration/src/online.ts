import { Subscribable } from './subscribable.js';

export type OnlineListener = (online: boolean) => void;

/**
 * The one source of "is the backend reachable" (TanStack's `onlineManager`, fed by real traffic).
 *
 * Starts online. Goes offline when the browser says so (`offline` event) or when a request finds
 * no backend (a connection error); comes back online on the browser's `online` event, any answer
 * from the backend, or a live realtime connection. Queries, the mutation queue and the outbox all
 * read it; nothing else models connectivity.
 */
export class OnlineStatus extends Subscribable<OnlineListener> {
  private online = true;
  private readonly detach: (() => void) | null;

  constructor({ watchBrowser = true }: { watchBrowser?: boolean } = {}) {
    super();
    const target = globalThis as unknown as Partial<Window>;
    if (watchBrowser && typeof target.addEventListener === 'function') {
      const up = (): void => this.set(true);
      const down = (): void => this.set(false);
      target.addEventListener('online', up);
      target.addEventListener('offline', down);
      this.detach = () => {
        target.removeEventListener?.('online', up);
        target.removeEventListener?.('offline', down);
      };
      if (typeof navigator !== 'undefined' && navigator.onLine === false) this.online = false;
    } else {
      this.detach = null;
    }
  }

  isOnline(): boolean {
    return this.online;
  }

  /** The backend answered (any status): it is reachable. */
  reportReachable(): void {
    this.set(true);
  }

  /** A request got no answer at all. */
  reportUnreachable(): void {
    this.set(false);
  }

  /** Sets the status (a test flipping the network, or an app's own signal). */
  set(online: boolean): void {
    if (online === this.online) return;
    this.online = online;
    this.emit(online);
  }

  /** Resolves when online (at once if already). */
  whenOnline(signal?: AbortSignal): Promise<void> {
    if (this.online) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const stop = this.subscribe((online) => {
        if (!online) return;
        stop();
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      const onAbort = (): void => {
        stop();
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  dispose(): void {
    this.detach?.();
    this.listeners.clear();
  }
}
