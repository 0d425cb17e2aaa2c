/**
 * `@pyairtable/frontend-integration/sw`: the optional Service Worker entry that drains the
 * offline outbox while no page does (PWA support).
 *
 * ```js
 * // sw.js (a module Service Worker)
 * import { installOutboxSync } from '@pyairtable/frontend-integration/sw';
 * installOutboxSync(self, { baseURL: 'https://api.example.com/api/v1', tokenURL: '/api/pyat/token' });
 * ```
 *
 * It drains the same IndexedDB outbox the pages fill: on Background Sync (`sync` events with
 * the tag, where the browser has it; pages register it when a write is deferred) and whenever
 * the worker starts (elsewhere, e.g. Safari and Firefox, a start is what there is). The access
 * token comes from the app's session route (`tokenURL`, same origin, so the session cookie goes
 * with it); the refresh token never reaches the worker. It takes the same Web Lock as the pages,
 * so the worker and a page never send one write twice at once, and works in an app whose pages
 * are served from a Service Worker cache (nothing here depends on the page).
 */

import createClient from 'openapi-fetch';
import type { SessionListener } from './auth/session.js';
import { systemClock } from './clock.js';
import { buildConfig } from './config.js';
import { ServiceError } from './errors.js';
import { Metrics } from './metrics.js';
import { OnlineStatus } from './online.js';
import { BACKGROUND_SYNC_TAG } from './outbox/background-sync.js';
import { Outbox } from './outbox/outbox.js';
import { directReads } from './services/base.js';
import { RecordService } from './services/records.js';
import { UserService } from './services/users.js';
import { DATABASE_NAME, openStorage } from './storage.js';
import { Subscribable } from './subscribable.js';
import { type Fetch, Transport } from './transport/client.js';
import type { paths } from './types/index.js';

export { BACKGROUND_SYNC_TAG };

export interface OutboxSyncOptions {
  /** The API's base URL (`…/api/v1`). */
  baseURL: string;
  /** The app's same-origin route answering `{ access_token }` (or `{ accessToken }`/`{ token }`). */
  tokenURL: string;
  databaseName?: string;
  /** The Background Sync tag (default `pyat-outbox`). */
  tag?: string;
  fetch?: Fetch;
}

export interface DrainReport {
  /** The user whose writes were drained; null when the session route gave no token. */
  user: string | null;
  /** Writes still queued afterwards; null when the drain failed (they stay queued). */
  pending: number | null;
}

/** The session route's token, fetched again when the backend refuses it. */
class SessionRouteTokens extends Subscribable<SessionListener> {
  private token: string | null = null;
  private user: string | null = null;

  constructor(
    private readonly url: string,
    private readonly fetch: Fetch,
  ) {
    super();
  }

  async getToken(options: { forceRefresh?: boolean } = {}): Promise<string | null> {
    if (this.token !== null && !options.forceRefresh) return this.token;
    const response = await this.fetch(this.url, {
      credentials: 'same-origin',
      headers: { Accept: 'application/json', 'X-PyAirtable-Token': '1' },
    });
    if (!response.ok) {
      this.token = null;
      return null;
    }
    const body = (await response.json()) as {
      access_token?: string;
      accessToken?: string;
      token?: string;
    };
    this.token = body.access_token ?? body.accessToken ?? body.token ?? null;
    return this.token;
  }

  userId(): string | null {
    return this.user;
  }

  setUser(user: string): void {
    this.user = user;
  }
}

/**
 * Sends what the signed-in user's outbox holds, once. A `ServiceError` (backend away, session
 * route refusing) is reported as `pending: null`, the rows staying queued for the next start or
 * sync; anything else (IndexedDB refused) is thrown.
 */
export async function drainOutbox(options: OutboxSyncOptions): Promise<DrainReport> {
  const fetch: Fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const tokens = new SessionRouteTokens(options.tokenURL, fetch);
  const online = new OnlineStatus({ watchBrowser: false });
  // Only the transport and the two services a drain needs: no cache, no realtime (a small worker).
  const config = buildConfig({ baseURL: options.baseURL });
  const transport = new Transport(config, {
    fetch,
    clock: systemClock,
    metrics: new Metrics(),
    online,
  });
  transport.tokens = tokens;
  const context = {
    transport,
    api: createClient<paths>({ baseUrl: config.baseURL }),
    reads: directReads,
    changed: () => undefined,
  };
  const records = new RecordService(context);
  const storage = openStorage(options.databaseName ?? DATABASE_NAME);
  try {
    if ((await tokens.getToken()) === null) return { user: null, pending: 0 };
    const user = (await new UserService(context).getCurrentUser()).id;
    tokens.setUser(user);
    const outbox = new Outbox({
      user,
      storage,
      records,
      online,
      now: () => Date.now(),
      watch: false,
    });
    try {
      await outbox.open();
      await outbox.sync();
      return { user, pending: outbox.pendingCount };
    } finally {
      await outbox.close();
    }
  } catch (error) {
    if (error instanceof ServiceError) return { user: tokens.userId(), pending: null };
    throw error;
  } finally {
    online.dispose();
    (await storage.catch(() => null))?.close();
  }
}

interface SyncEvent extends Event {
  tag: string;
  waitUntil(promise: Promise<unknown>): void;
}

/**
 * Drains the outbox now (the worker started) and on every Background Sync with the tag.
 * `scope` is the Service Worker's global (`self`). Returns the drain the start began.
 */
export function installOutboxSync(
  scope: Pick<EventTarget, 'addEventListener'>,
  options: OutboxSyncOptions,
): Promise<DrainReport> {
  const tag = options.tag ?? BACKGROUND_SYNC_TAG;
  scope.addEventListener('sync', (event) => {
    const sync = event as SyncEvent;
    if (sync.tag === tag) sync.waitUntil(drainOutbox(options));
  });
  return drainOutbox(options);
}
