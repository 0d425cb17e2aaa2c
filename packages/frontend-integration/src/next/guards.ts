/**
 * Request checks for the session routes: same origin (Fetch Metadata first, `Origin` second)
 * and the CSRF token. Pure functions over a `Request`.
 */
import { safeEqual } from './cookie.js';

/** The header a browser must send to get an access token (forces a CORS preflight cross-site). */
export const TOKEN_HEADER = 'X-PyAirtable-Token';
/** The header state-changing routes read the CSRF token from. */
export const CSRF_HEADER = 'X-CSRF-Token';

/**
 * Whether the request comes from a page of this origin (or of `allowed`). `Sec-Fetch-Site`, when
 * the browser sends it, must be `same-origin`; `Origin`, when sent, must match. A request with
 * neither passes only if `requireSignal` is false (a same-origin GET from an old browser).
 */
export function fromSameOrigin(
  request: Request,
  { allowed = [], requireSignal }: { allowed?: readonly string[]; requireSignal: boolean },
): boolean {
  const site = request.headers.get('sec-fetch-site');
  if (site !== null && site !== 'same-origin') return false;
  const origin = request.headers.get('origin');
  if (origin !== null) {
    return origin === new URL(request.url).origin || allowed.includes(origin);
  }
  return site === 'same-origin' || !requireSignal;
}

/** Whether the request carries the session's CSRF token. */
export function hasCsrfToken(request: Request, expected: string): boolean {
  const sent = request.headers.get(CSRF_HEADER);
  return sent !== null && safeEqual(sent, expected);
}
