// `@pyairtable/frontend-integration/next`: the server half (route handlers, proxy, session,
// per-request client). The browser half is `/next/client`.
export type { CookieOptions, SessionData } from './cookie.js';
export { SessionExpiredError } from './errors.js';
export { CSRF_HEADER, TOKEN_HEADER } from './guards.js';
export type { SessionHandlers } from './handlers.js';
export { createSessionHandlers, RequestCookieJar } from './handlers.js';
export { RefreshFlights } from './refresh.js';
export type { PyAirtableNext, RequireAuthOptions } from './server.js';
export { createPyAirtableNext, dehydrateForClient } from './server.js';
export type { CookieJar, PyAirtableNextOptions, ServerSession } from './session.js';
export { SessionStore } from './session.js';
