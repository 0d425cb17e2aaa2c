/**
 * A circuit breaker per backend service: closed, open after repeated failures, one half-open
 * probe. A small pure state machine on an injected clock, so tests move time instead of sleeping.
 */
import { CircuitOpenError } from '../errors.js';

export type BreakerState = 'closed' | 'open' | 'halfOpen';

export interface BreakerSnapshot {
  state: BreakerState;
  consecutiveFailures: number;
  openedCount: number;
  /** Milliseconds until a probe may go, while open. */
  retryIn: number | null;
}

/**
 * Closed: requests flow; `failureThreshold` failures in a row open it. Open: requests fail at once
 * with `CircuitOpenError` for `resetTimeout` ms. Half-open: one probe goes; its success closes the
 * breaker, its failure opens it again. Only failures that say the service is unwell count (no
 * answer, 5xx); a 4xx is the caller's problem.
 */
export class CircuitBreaker {
  private state: 'closed' | 'open' | 'halfOpen' = 'closed';
  private failures = 0;
  private openedAt = 0;
  private openedCount = 0;
  private probing = false;

  constructor(
    readonly service: string,
    private readonly options: {
      failureThreshold: number;
      resetTimeout: number;
      now: () => number;
    },
  ) {}

  /** The state now (an open breaker past its timeout reads as half-open). */
  get current(): BreakerState {
    if (this.state === 'open' && this.options.now() - this.openedAt >= this.options.resetTimeout) {
      return 'halfOpen';
    }
    return this.state;
  }

  /** Lets a request through, or throws `CircuitOpenError`. */
  beforeRequest(): void {
    const state = this.current;
    if (state === 'closed') return;
    if (state === 'halfOpen' && !this.probing) {
      this.state = 'halfOpen';
      this.probing = true;
      return;
    }
    throw new CircuitOpenError(`The ${this.service} service is failing; requests are paused.`, {
      retryIn: this.retryIn() ?? 0,
      service: this.service,
    });
  }

  recordSuccess(): void {
    this.state = 'closed';
    this.failures = 0;
    this.probing = false;
  }

  recordFailure(): void {
    this.failures += 1;
    this.probing = false;
    if (this.state === 'open') return; // sent before it opened: the pause is not extended
    if (this.state === 'halfOpen' || this.failures >= this.options.failureThreshold) {
      this.openedCount += 1;
      this.state = 'open';
      this.openedAt = this.options.now();
    }
  }

  /** A probe ended without a verdict (aborted): let another one through. */
  releaseProbe(): void {
    this.probing = false;
  }

  snapshot(): BreakerSnapshot {
    return {
      state: this.current,
      consecutiveFailures: this.failures,
      openedCount: this.openedCount,
      retryIn: this.retryIn(),
    };
  }

  private retryIn(): number | null {
    if (this.state !== 'open') return null;
    return Math.max(0, this.options.resetTimeout - (this.options.now() - this.openedAt));
  }
}
