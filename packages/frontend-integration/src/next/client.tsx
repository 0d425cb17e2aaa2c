'use client';
/**
 * `@pyairtable/frontend-integration/next/client`: the browser half of the Next.js session.
 *
 * `PyAirtableNextProvider` builds the browser's integration (tokens from the app's token route,
 * realtime resuming from the server render's `event_position`) and owns it; `useSignOut` ends
 * the session on the server (CSRF token sent) and forgets everything the browser kept for it.
 */
import { type ReactNode, useCallback, useState } from 'react';
import type { IntegrationOptions } from '../config.js';
import { PyAirtableIntegration } from '../integration.js';
import { usePyAirtable } from '../react/context.js';
import { useOwnedIntegration } from '../react/lifetime.js';
import { PyAirtableProvider } from '../react/provider.js';
import type { RealtimeConnection } from '../realtime/connection.js';
import type { User } from '../types/index.js';
import { CSRF_HEADER } from './guards.js';
import { RouteTokenProvider } from './route-token.js';

/** An integration whose realtime connection starts at a given position (an SSR handoff). */
class BrowserIntegration extends PyAirtableIntegration {
  resumeFrom: number | null = null;

  protected override createConnection(since: number | null = null): RealtimeConnection {
    return super.createConnection(since ?? this.resumeFrom);
  }
}

export interface PyAirtableNextProviderProps {
  children?: ReactNode;
  /** `getServerSession()`'s answer (user and CSRF token; no tokens), or null when signed out. */
  session: { user: User; csrfToken: string; expiresAt?: number } | null;
  /** The integration's options; `baseURL` is the backend as the browser reaches it. */
  config: IntegrationOptions;
  /** `dehydrateForClient(...).since`: realtime resumes from here, so nothing is missed. */
  since?: number | null;
  /** Default `/api/pyat/token`. */
  tokenURL?: string;
  /** Default `/api/pyat/logout`. */
  logoutURL?: string;
}

interface NextSessionRoutes {
  logoutURL: string;
  csrfToken: string | null;
  tokens: RouteTokenProvider;
}

const routesOf = new WeakMap<PyAirtableIntegration, NextSessionRoutes>();

export function PyAirtableNextProvider(props: PyAirtableNextProviderProps): ReactNode {
  const [integration] = useState(() => {
    const tokens = new RouteTokenProvider({
      user: props.session?.user ?? null,
      ...(props.tokenURL ? { tokenURL: props.tokenURL } : {}),
    });
    const pa = new BrowserIntegration(props.config, { tokenProvider: tokens });
    pa.resumeFrom = props.since ?? null;
    routesOf.set(pa, {
      logoutURL: props.logoutURL ?? '/api/pyat/logout',
      csrfToken: props.session?.csrfToken ?? null,
      tokens,
    });
    tokens.announce();
    return pa;
  });
  useOwnedIntegration(integration);
  const session = props.session
    ? {
        user: props.session.user,
        ...(props.session.expiresAt === undefined ? {} : { expiresAt: props.session.expiresAt }),
      }
    : null;
  return (
    <PyAirtableProvider integration={integration} session={session}>
      {props.children}
    </PyAirtableProvider>
  );
}

/**
 * Signs out: the server revokes the session and deletes its cookie (the request carries the
 * CSRF token), then the browser forgets everything it kept for the user: the cached data in
 * memory and in IndexedDB, the realtime cursor, and the writes still waiting in the offline
 * outbox (ask the user first when `useOutbox().pendingCount` is not 0: they are discarded).
 *
 * @throws Error the server refused (the CSRF token was wrong) or could not be reached.
 */
export function useSignOut(): () => Promise<void> {
  const pa = usePyAirtable();
  return useCallback(async () => {
    const routes = routesOf.get(pa);
    if (routes === undefined) throw new Error('useSignOut needs a <PyAirtableNextProvider>.');
    const response = await fetch(routes.logoutURL, {
      method: 'POST',
      headers: routes.csrfToken ? { [CSRF_HEADER]: routes.csrfToken } : {},
      credentials: 'same-origin',
    });
    if (!response.ok) throw new Error(`Signing out failed (${response.status}).`);
    const outbox = pa.offline;
    if (outbox !== null) {
      for (const entry of await outbox.entries()) await outbox.discard(entry.id);
    }
    // The integration drops the in-memory cache and purges the persisted one and the cursor.
    routes.tokens.end('signedOut');
    pa.clearCache();
  }, [pa]);
}

export { RouteTokenProvider } from './route-token.js';
