/**
 * `@pyairtable/frontend-integration/next`: our own session for the App Router (no Auth.js).
 *
 * ```ts
 * // lib/pyairtable.ts (server only)
 * export const pyat = createPyAirtableNext({ apiURL: process.env.PYAT_API_URL!, secret: process.env.PYAT_SECRET! });
 * // app/api/pyat/[action]/route.ts
 * export const { GET, POST } = pyat.routes;
 * // proxy.ts
 * export const proxy = pyat.proxy;
 * ```
 *
 * Where each piece may run: `getServerSession()` and `getServerClient()` anywhere on the server,
 * Server Components included (they never refresh); `requireAuth()` in route handlers and server
 * actions (it refreshes and writes the cookie); `proxy` in `proxy.ts` (refreshes before a page
 * renders and hands the new cookie to that same render).
 */
import { type DehydratedState, dehydrate } from '@tanstack/query-core';
import { cookies } from 'next/headers';
import { NextResponse } from 'next/server';
import { cache } from 'react';
import { AuthenticationError, PermissionDeniedError } from '../errors.js';
import type { PyAirtableIntegration } from '../integration.js';
import type { RecordList } from '../types/index.js';
import { replaceCookie } from './cookie.js';
import { createSessionHandlers, RequestCookieJar, type SessionHandlers } from './handlers.js';
import { errorEnvelope } from './respond.js';
import {
  type CookieJar,
  type PyAirtableNextOptions,
  type ServerSession,
  SessionStore,
} from './session.js';

export interface RequireAuthOptions {
  /** The user's platform role must be one of these (`user`, `admin`). */
  roles?: readonly string[];
  /** The user must hold this permission (`record:write`) in `workspaceId`. */
  permission?: string;
  workspaceId?: string;
}

export interface PyAirtableNext {
  /** The session a page may know (user, expiry, CSRF token; never a token), or null. */
  getServerSession(): Promise<ServerSession | null>;
  /** This request's client, signed in as the session (one per request; never refreshes). */
  getServerClient(): Promise<PyAirtableIntegration>;
  /**
   * For route handlers and server actions: the session, refreshed when due (the new cookie is
   * written), its user checked.
   *
   * @throws AuthenticationError not signed in, or the session ended.
   * @throws PermissionDeniedError a role or permission is missing.
   */
  requireAuth(
    options?: RequireAuthOptions,
  ): Promise<{ session: ServerSession; client: PyAirtableIntegration }>;
  /** `export const { GET, POST } = pyat.routes` in `app/api/pyat/[action]/route.ts`. */
  routes: {
    GET(request: Request): Promise<Response>;
    POST(request: Request): Promise<Response>;
  };
  handlers: SessionHandlers;
  /** `export const proxy = pyat.proxy` in `proxy.ts`: refreshes before pages render. */
  proxy(request: Request): Promise<Response>;
  /** The store under it all (for tests and custom wiring). */
  store: SessionStore;
}

export function createPyAirtableNext(
  options: PyAirtableNextOptions & { allowedOrigins?: readonly string[] },
): PyAirtableNext {
  const store = new SessionStore(options);
  const handlers = createSessionHandlers(store, {
    ...(options.allowedOrigins ? { allowedOrigins: options.allowedOrigins } : {}),
  });
  const readOnlyJar = async (): Promise<CookieJar> => {
    const jar = await cookies();
    return { get: (name) => jar.get(name)?.value };
  };
  const writableJar = async (): Promise<CookieJar> => {
    // Route handlers and server actions get a writable store; `set` throws in a Server Component.
    const jar = (await cookies()) as unknown as {
      get(name: string): { value: string } | undefined;
      set(name: string, value: string, options: object): void;
      delete(name: string): void;
    };
    return {
      get: (name) => jar.get(name)?.value,
      set: (name, value, cookie) => {
        if (value === null) jar.delete(name);
        else
          jar.set(name, value, {
            httpOnly: true,
            secure: cookie.secure,
            sameSite: 'lax',
            path: '/',
            maxAge: cookie.maxAge,
          });
      },
    };
  };
  const getServerClient = cache(async () => store.client(await store.read(await readOnlyJar())));

  return {
    store,
    handlers,
    async getServerSession() {
      return store.view(await readOnlyJar());
    },
    getServerClient,
    async requireAuth(required = {}) {
      const jar = await writableJar();
      const fresh = await store.fresh(jar);
      const session = await store.view(jar);
      if (fresh === null || session === null) throw new AuthenticationError('Not signed in.');
      if (required.roles && !required.roles.includes(session.user.role)) {
        throw new PermissionDeniedError(`This needs the role ${required.roles.join(' or ')}.`);
      }
      const client = store.client(fresh);
      if (required.permission !== undefined) {
        if (required.workspaceId === undefined) {
          throw new TypeError('requireAuth({ permission }) needs the workspaceId it applies to.');
        }
        await client.auth.require(required.permission, { workspaceId: required.workspaceId });
      }
      return { session, client };
    },
    routes: {
      async GET(request) {
        if (action(request) === 'token') return handlers.token(request);
        return errorEnvelope(404, 'NOT_FOUND', 'No such session route.');
      },
      async POST(request) {
        const name = action(request);
        if (name === 'login') return handlers.login(request);
        if (name === 'logout') return handlers.logout(request);
        return errorEnvelope(404, 'NOT_FOUND', 'No such session route.');
      },
    },
    async proxy(request) {
      const jar = new RequestCookieJar(request);
      try {
        await store.fresh(jar);
      } catch {
        // The backend is unreachable: the page renders with the session as it is.
        return NextResponse.next();
      }
      const change = jar.change(store.cookie.name);
      if (change === null) return NextResponse.next();
      // The same render must see the new cookie: override the request's Cookie header too.
      const headers = new Headers(request.headers);
      headers.set(
        'cookie',
        replaceCookie(request.headers.get('cookie'), store.cookie.name, change.value),
      );
      const response = NextResponse.next({ request: { headers } });
      for (const line of jar.setCookies) response.headers.append('Set-Cookie', line);
      return response;
    },
  };
}

function action(request: Request): string {
  return new URL(request.url).pathname.split('/').filter(Boolean).pop() ?? '';
}

/**
 * The server client's cache, ready for `<HydrationBoundary state>`, and the realtime position
 * the browser resumes from: the lowest `event_position` among the prefetched record lists, so no
 * event between this render and the browser's subscription is missed.
 */
export function dehydrateForClient(pa: PyAirtableIntegration): {
  state: DehydratedState;
  since: number | null;
} {
  const client = pa.cache?.queryClient;
  if (client === undefined) return { state: { queries: [], mutations: [] }, since: null };
  let since: number | null = null;
  for (const query of client.getQueryCache().findAll({ queryKey: ['pyat', 'records'] })) {
    const data = query.state.data as RecordList | { pages: RecordList[] } | undefined;
    const lists = data === undefined ? [] : 'pages' in data ? data.pages : [data];
    for (const list of lists) {
      const position = list.pagination.event_position;
      if (since === null || position < since) since = position;
    }
  }
  return { state: dehydrate(client), since };
}
