/**
 * When to try a request again, and how long to wait first: a frozen policy and pure functions.
 *
 * Hand-written (not cockatiel or p-retry) because each decision depends on the answer itself (its
 * status, its `Retry-After`, whether the write carries an idempotency key), on the breaker between
 * attempts and on the call's total deadline, which those libraries do not see together.
 */

export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);
export const WRITE_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * How many times to retry and how long to wait (milliseconds). `attempts` counts retries after the
 * first try. The n-th retry waits a random time between half and all of
 * `min(maxDelay, baseDelay * 2 ** (n - 1))` (equal jitter). A `Retry-After` answer is obeyed
 * instead when at most `retryAfterCap`; beyond that the error is thrown.
 */
export interface RetryPolicy {
  readonly attempts: number;
  readonly baseDelay: number;
  readonly maxDelay: number;
  readonly retryAfterCap: number;
  readonly statuses: ReadonlySet<number>;
}

export function retryPolicy(options: Partial<RetryPolicy> = {}): RetryPolicy {
  return Object.freeze({
    attempts: 3,
    baseDelay: 1000,
    maxDelay: 30_000,
    retryAfterCap: 60_000,
    statuses: RETRYABLE_STATUSES,
    ...options,
  });
}

/** Whether a request of `method` may be sent twice: reads always, writes only with a key. */
export function mayRetryMethod(method: string, idempotencyKey: string | null): boolean {
  return SAFE_METHODS.has(method.toUpperCase()) || idempotencyKey !== null;
}

/** The jittered wait before the `retry`-th retry (1-based), in milliseconds. */
export function backoffDelay(
  policy: RetryPolicy,
  retry: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxDelay, policy.baseDelay * 2 ** Math.max(retry - 1, 0));
  return ceiling / 2 + random() * (ceiling / 2);
}

/**
 * Milliseconds to wait from a `Retry-After` header (delta-seconds or an HTTP date), or null when
 * absent or malformed; a date in the past is 0.
 */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (text === '') return null;
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const when = Date.parse(text);
  if (Number.isNaN(when)) return null;
  return Math.max(0, when - now);
}

/**
 * The wait before the `retry`-th retry, or null when the policy says stop: retries used up, or
 * the backend asked for a wait longer than the cap.
 */
export function retryWait(
  policy: RetryPolicy,
  retry: number,
  retryAfter: number | null,
  random: () => number = Math.random,
): number | null {
  if (retry > policy.attempts) return null;
  if (retryAfter !== null) return retryAfter <= policy.retryAfterCap ? retryAfter : null;
  return backoffDelay(policy, retry, random);
}
