/**
 * One refresh per refresh token per server process.
 *
 * Refresh tokens are single-use: a second exchange of the same token (two requests of one
 * browser racing past the proxy, or a tab and its prefetches) would be reuse, and reuse revokes
 * the whole session family. So concurrent refreshes of one token share one request, and its
 * answer is remembered for `graceMs` (the backend's grace window, 10 s) so a request that still
 * carried the old cookie gets the same new pair instead of spending the token again. Other
 * server instances racing on the same token fall inside the backend's grace window and receive
 * the same pair from it.
 */
import type { TokenPair } from '../types/index.js';

interface Flight {
  answer: Promise<TokenPair>;
  settledAt: number | null;
}

export class RefreshFlights {
  private readonly flights = new Map<string, Flight>();
  /** Refreshes actually sent (tests read it). */
  sent = 0;

  constructor(
    private readonly send: (refreshToken: string) => Promise<TokenPair>,
    private readonly options: { graceMs: number; now?: () => number },
  ) {}

  /** The pair that replaces `refreshToken`; concurrent and recent callers share one exchange. */
  async refresh(refreshToken: string): Promise<TokenPair> {
    const now = this.now();
    for (const [key, flight] of this.flights) {
      if (flight.settledAt !== null && now - flight.settledAt > this.options.graceMs) {
        this.flights.delete(key);
      }
    }
    const key = await digest(refreshToken);
    const known = this.flights.get(key);
    if (known !== undefined) return known.answer;
    this.sent += 1;
    const flight: Flight = { answer: this.send(refreshToken), settledAt: null };
    this.flights.set(key, flight);
    flight.answer.then(
      () => {
        flight.settledAt = this.now();
      },
      () => {
        // A failure is not remembered: the next caller may try again (a refused token fails
        // again at once; a network error may pass).
        this.flights.delete(key);
      },
    );
    return flight.answer;
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }
}

async function digest(token: string): Promise<string> {
  const bytes = new Uint8Array(
    await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token)),
  );
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}
