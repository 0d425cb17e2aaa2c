/**
 * Route handlers (`app/api/pyat/[action]/route.ts`): sign-in, sign-out and the browser's access
 * token. Plain `Request` → `Response` functions; the session cookie travels in `Cookie` and
 * `Set-Cookie` headers, so they can refresh (they write cookies) and run in any runtime.
 */

import { ServiceError } from '../errors.js';
import { readCookie, serializeCookie } from './cookie.js';
import { fromSameOrigin, hasCsrfToken, TOKEN_HEADER } from './guards.js';
import { errorEnvelope } from './respond.js';
import type { CookieJar, SessionStore } from './session.js';

/** A jar over a request's `Cookie` header that collects `Set-Cookie` lines for the response. */
export class RequestCookieJar implements CookieJar {
  readonly setCookies: string[] = [];
  private readonly written = new Map<string, string | null>();

  constructor(private readonly request: Request) {}

  get(name: string): string | undefined {
    if (this.written.has(name)) return this.written.get(name) ?? undefined;
    return readCookie(this.request.headers.get('cookie'), name);
  }

  set: NonNullable<CookieJar['set']> = (name, value, options) => {
    this.written.set(name, value);
    this.setCookies.push(serializeCookie(options, value));
  };

  /** Whether cookie `name` was written, and its new value (null: deleted). */
  change(name: string): { value: string | null } | null {
    return this.written.has(name) ? { value: this.written.get(name) ?? null } : null;
  }
}

export interface SessionHandlers {
  /** `POST`: `{email, password}` (JSON or a form) → `{user, csrfToken, expiresAt}` + the cookie. */
  login(request: Request): Promise<Response>;
  /** `POST` with `X-CSRF-Token`: revokes the session at the backend and deletes the cookie. */
  logout(request: Request): Promise<Response>;
  /** `GET` with `X-PyAirtable-Token: 1`: `{accessToken, expiresAt, user}`, refreshed when due. */
  token(request: Request): Promise<Response>;
}

export function createSessionHandlers(
  store: SessionStore,
  { allowedOrigins = [] }: { allowedOrigins?: readonly string[] } = {},
): SessionHandlers {
  const refuse = (message: string): Response => errorEnvelope(403, 'PERMISSION_DENIED', message);
  const respond = (jar: RequestCookieJar, status: number, body: unknown): Response => {
    const headers = new Headers({ 'Cache-Control': 'no-store' });
    for (const line of jar.setCookies) headers.append('Set-Cookie', line);
    if (body === null) return new Response(null, { status, headers });
    headers.set('Content-Type', 'application/json');
    return new Response(JSON.stringify(body), { status, headers });
  };
  const failed = (error: unknown): Response => {
    if (error instanceof ServiceError && error.code !== null) {
      return errorEnvelope(error.code, error.type, error.message);
    }
    throw error;
  };

  return {
    async login(request) {
      if (!fromSameOrigin(request, { allowed: allowedOrigins, requireSignal: true })) {
        return refuse('Sign-in is accepted only from this site.');
      }
      const { email, password } = await credentials(request);
      if (!email || !password) {
        return errorEnvelope(422, 'VALIDATION_ERROR', 'Email and password are required.');
      }
      const jar = new RequestCookieJar(request);
      try {
        const session = await store.login(jar, email, password);
        return respond(jar, 200, {
          user: session.user,
          csrfToken: session.csrf,
          expiresAt: session.expiresAt,
        });
      } catch (error) {
        return failed(error);
      }
    },

    async logout(request) {
      if (!fromSameOrigin(request, { allowed: allowedOrigins, requireSignal: true })) {
        return refuse('Sign-out is accepted only from this site.');
      }
      const jar = new RequestCookieJar(request);
      const session = await store.read(jar);
      if (session !== null && !hasCsrfToken(request, session.csrf)) {
        return refuse('The CSRF token is missing or wrong.');
      }
      try {
        await store.logout(jar);
      } catch (error) {
        return failed(error);
      }
      return respond(jar, 204, null);
    },

    async token(request) {
      if (
        request.headers.get(TOKEN_HEADER) !== '1' ||
        !fromSameOrigin(request, { allowed: allowedOrigins, requireSignal: false })
      ) {
        return refuse('The access token is given only to this site’s pages.');
      }
      const jar = new RequestCookieJar(request);
      const force = new URL(request.url).searchParams.get('force') === '1';
      try {
        const session = await store.fresh(jar, { force });
        if (session === null) {
          return respond(jar, 401, {
            error: { type: 'AUTH_ERROR', message: 'Not signed in.' },
            request_id: null,
          });
        }
        return respond(jar, 200, {
          accessToken: session.accessToken,
          expiresAt: session.expiresAt,
          user: session.user,
        });
      } catch (error) {
        return failed(error);
      }
    },
  };
}

async function credentials(request: Request): Promise<{ email?: string; password?: string }> {
  const type = request.headers.get('content-type') ?? '';
  try {
    if (type.includes('application/json')) {
      const body = (await request.json()) as { email?: unknown; password?: unknown };
      return {
        ...(typeof body.email === 'string' ? { email: body.email } : {}),
        ...(typeof body.password === 'string' ? { password: body.password } : {}),
      };
    }
    const form = await request.formData();
    const email = form.get('email');
    const password = form.get('password');
    return {
      ...(typeof email === 'string' ? { email } : {}),
      ...(typeof password === 'string' ? { password } : {}),
    };
  } catch {
    return {};
  }
}
