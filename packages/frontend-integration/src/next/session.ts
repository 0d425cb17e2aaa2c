/**
 * The server side of the Next.js session, independent of Next's request APIs: it reads and
 * writes through a `CookieJar`, so the same rules hold in the proxy, route handlers, server
 * actions and Server Components, and tests drive it without a Next server.
 *
 * The rule that matters: a refresh starts only where its result can be written back (a jar with
 * `set`). A Server Component's cookies are read-only; there an expired access token is reported
 * (`SessionExpiredError`) and the refresh token is left unspent for the proxy or a route handler.
 */
import { buildConfig, type IntegrationOptions } from '../config.js';
import { AuthenticationError } from '../errors.js';
import { createPyAirtableIntegration, type PyAirtableIntegration } from '../integration.js';
import type { TokenPair, User } from '../types/index.js';
import {
  type CookieOptions,
  openSession,
  randomToken,
  type SessionData,
  sealSession,
} from './cookie.js';
import { RefreshFlights } from './refresh.js';
import { SessionTokenProvider } from './token-provider.js';

/** Where the session cookie is read from and, outside Server Components, written to. */
export interface CookieJar {
  get(name: string): string | undefined;
  /** Absent (or throwing) in a Server Component: cookies cannot be written while rendering. */
  set?(name: string, value: string | null, options: CookieOptions): void;
}

export interface PyAirtableNextOptions {
  /** The backend's API root, as the server reaches it (`http://127.0.0.1:8080/api/v1`). */
  apiURL: string;
  /** At least 32 characters; encrypts the session cookie. Rotate it to end every session. */
  secret: string;
  /** Default `__Host-pyat-session` (needs HTTPS, or localhost); `pyat-session` when not `secure`. */
  cookieName?: string;
  /** Send the cookie only over HTTPS (browsers also accept it on http://localhost). Default true. */
  secure?: boolean;
  /** Seconds the browser keeps the cookie. Default 30 days (the refresh token's lifetime). */
  maxAge?: number;
  /** Refresh this long (ms) before the access token expires. Default 60 s. */
  refreshMargin?: number;
  /** How long (ms) a refresh's answer is reused for the same old token. Default 10 s. */
  refreshGrace?: number;
  /** Options for the per-request server clients (timeouts, retries...). */
  client?: IntegrationOptions;
  /** The `fetch` the server uses to reach the backend (tests inject faults here). */
  fetch?: typeof fetch;
  now?: () => number;
}

/** What a page or the browser may know of the session: no token, ever. */
export interface ServerSession {
  user: User;
  /** When the access token expires (ms epoch). */
  expiresAt: number;
  /** The access token has expired: a route handler or the proxy must refresh it first. */
  expired: boolean;
  /** The CSRF token state-changing routes expect in `X-CSRF-Token`. */
  csrfToken: string;
}

export const DEFAULT_MAX_AGE = 30 * 24 * 3600;
export const DEFAULT_REFRESH_GRACE = 10_000;

export class SessionStore {
  readonly cookie: CookieOptions;
  readonly flights: RefreshFlights;
  private readonly auth: PyAirtableIntegration;

  constructor(readonly options: PyAirtableNextOptions) {
    if (options.secret.length < 32) {
      throw new TypeError('The session secret must be at least 32 characters long.');
    }
    buildConfig({ baseURL: options.apiURL });
    const secure = options.secure ?? true;
    this.cookie = {
      name: options.cookieName ?? (secure ? '__Host-pyat-session' : 'pyat-session'),
      maxAge: options.maxAge ?? DEFAULT_MAX_AGE,
      secure,
    };
    // The one client this process uses for sign-in, refresh and sign-out (no cache, no realtime).
    this.auth = createPyAirtableIntegration(
      {
        ...options.client,
        baseURL: options.apiURL,
        enableCaching: false,
        features: { enableRealtime: false },
      },
      options.fetch ? { fetch: options.fetch } : {},
    );
    this.flights = new RefreshFlights((token) => this.auth.services.auth.refresh(token), {
      graceMs: options.refreshGrace ?? DEFAULT_REFRESH_GRACE,
      ...(options.now ? { now: options.now } : {}),
    });
  }

  now(): number {
    return this.options.now?.() ?? Date.now();
  }

  /** The session in the jar, as it is (no refresh): what a Server Component may use. */
  read(jar: CookieJar): Promise<SessionData | null> {
    return openSession(jar.get(this.cookie.name), this.options.secret);
  }

  /** The session as a page may see it, or null. */
  async view(jar: CookieJar): Promise<ServerSession | null> {
    const session = await this.read(jar);
    if (session === null) return null;
    return {
      user: session.user,
      expiresAt: session.expiresAt,
      expired: session.expiresAt <= this.now(),
      csrfToken: session.csrf,
    };
  }

  /**
   * Signs in at the backend and writes the session into the jar.
   *
   * @throws AuthenticationError wrong email or password. @throws RateLimitedError too many tries.
   */
  async login(jar: CookieJar, email: string, password: string): Promise<SessionData> {
    const pair = await this.auth.services.auth.login(email, password);
    const session = this.fromPair(pair, randomToken());
    await this.write(jar, session);
    return session;
  }

  /** Revokes the refresh token at the backend (best effort) and deletes the cookie. */
  async logout(jar: CookieJar): Promise<void> {
    const session = await this.read(jar);
    try {
      if (session !== null) await this.auth.services.auth.logout(session.refreshToken);
    } catch (error) {
      if (!(error instanceof AuthenticationError)) throw error;
    } finally {
      this.writable(jar)(this.cookie.name, null, this.cookie);
    }
  }

  /**
   * The session with an access token valid for at least `refreshMargin`, refreshing first when
   * due (or when `force`); the refreshed session is written into the jar. A refused refresh
   * deletes the cookie and answers null.
   *
   * @throws TypeError the jar cannot be written (a Server Component): refresh elsewhere.
   */
  async fresh(
    jar: CookieJar,
    { force = false }: { force?: boolean } = {},
  ): Promise<SessionData | null> {
    const set = this.writable(jar);
    const session = await this.read(jar);
    if (session === null) return null;
    const margin = this.options.refreshMargin ?? 60_000;
    if (!force && session.expiresAt - this.now() > margin) return session;
    let pair: TokenPair;
    try {
      pair = await this.flights.refresh(session.refreshToken);
    } catch (error) {
      if (error instanceof AuthenticationError) {
        set(this.cookie.name, null, this.cookie);
        return null;
      }
      throw error;
    }
    const next = this.fromPair(pair, session.csrf);
    await this.write(jar, next);
    return next;
  }

  /**
   * A client for this request's server code, signed in as the jar's session. It never refreshes:
   * with an expired access token its calls fail with `SessionExpiredError`.
   */
  client(session: SessionData | null): PyAirtableIntegration {
    return createPyAirtableIntegration(
      { ...this.options.client, baseURL: this.options.apiURL, features: { enableRealtime: false } },
      {
        tokenProvider: new SessionTokenProvider(session, () => this.now()),
        ...(this.options.fetch ? { fetch: this.options.fetch } : {}),
      },
    );
  }

  private fromPair(pair: TokenPair, csrf: string): SessionData {
    return {
      accessToken: pair.access_token,
      refreshToken: pair.refresh_token,
      expiresAt: this.now() + pair.expires_in * 1000,
      user: pair.user,
      csrf,
    };
  }

  private async write(jar: CookieJar, session: SessionData): Promise<void> {
    const set = this.writable(jar);
    set(
      this.cookie.name,
      await sealSession(session, this.options.secret, this.cookie.maxAge),
      this.cookie,
    );
  }

  private writable(jar: CookieJar): NonNullable<CookieJar['set']> {
    const set = jar.set;
    if (set === undefined) {
      throw new TypeError(
        'The session cookie cannot be written here (a Server Component): refresh in the proxy, a route handler or a server action.',
      );
    }
    return set.bind(jar);
  }
}
