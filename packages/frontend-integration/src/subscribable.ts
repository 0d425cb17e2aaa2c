/**
 * One listener mechanism for every stateful part (TanStack query-core's `subscribable.ts`):
 * `subscribe(listener)` returns the function that removes it. A listener that throws is
 * reported to the error sink and never stops the others or reaches the code that emitted.
 */
// biome-ignore lint/suspicious/noExplicitAny: listeners take any arguments
export type Listener = (...args: any[]) => void;

export type ListenerErrorSink = (error: unknown) => void;

/** Where listener failures go unless the integration routes them elsewhere. */
export const reportListenerError: ListenerErrorSink = (error) => {
  const report = (globalThis as { reportError?: (error: unknown) => void }).reportError;
  if (typeof report === 'function') report(error);
  else console.error('A PyAirtable listener failed:', error);
};

export class Subscribable<TListener extends Listener = () => void> {
  protected readonly listeners = new Set<TListener>();
  protected onListenerError: ListenerErrorSink = reportListenerError;

  /** Calls `listener` on every change until the returned function is called. */
  subscribe(listener: TListener): () => void {
    this.listeners.add(listener);
    this.onSubscribe();
    return () => {
      if (this.listeners.delete(listener)) this.onUnsubscribe();
    };
  }

  hasListeners(): boolean {
    return this.listeners.size > 0;
  }

  protected emit(...args: Parameters<TListener>): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(...args);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }

  protected onSubscribe(): void {}

  protected onUnsubscribe(): void {}
}
