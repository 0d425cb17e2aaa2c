/**
 * The browser's token provider behind a Next.js app: the access token comes from the app's
 * same-origin token route (which holds the session in its httpOnly cookie and refreshes it
 * there), is kept in memory only, and is fetched again shortly before it expires or when the
 * backend refuses it. The refresh token never reaches the browser.
 */
import type { TokenProvider } from '../auth/provider.js';
import type { Session, SessionListener } from '../auth/session.js';
import { Subscribable } from '../subscribable.js';
import type { User } from '../types/index.js';
import { TOKEN_HEADER } from './guards.js';

export interface RouteTokenProviderOptions {
  /** The signed-in user from the server session (null: signed out). */
  user: User | null;
  /** Default `/api/pyat/token`. */
  tokenURL?: string;
  /** Ask for a new token this long (ms) before the current one expires. Default 30 s. */
  margin?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

export class RouteTokenProvider extends Subscribable<SessionListener> implements TokenProvider {
  private user: User | null;
  private token: { value: string; expiresAt: number } | null = null;
  private flight: Promise<string | null> | null = null;

  constructor(private readonly options: RouteTokenProviderOptions) {
    super();
    this.user = options.user;
  }

  userId(): string | null {
    return this.user?.id ?? null;
  }

  /** The signed-in user, or null. */
  get currentUser(): User | null {
    return this.user;
  }

  /**
   * The access token to send, from memory or the token route.
   *
   * @throws APIConnectionError-like `TypeError` when the app's server cannot be reached.
   */
  async getToken(
    options: { forceRefresh?: boolean; rejected?: string | null } = {},
  ): Promise<string | null> {
    if (this.user === null) return null;
    const now = this.now();
    const token = this.token;
    if (options.forceRefresh) {
      if (token !== null && options.rejected != null && token.value !== options.rejected) {
        return token.value;
      }
      return this.fetchToken(true);
    }
    if (token !== null && token.expiresAt - now > (this.options.margin ?? 30_000)) {
      return token.value;
    }
    return this.fetchToken(false);
  }

  /** Tells listeners the session (re)started (the integration starts its realtime feed). */
  announce(): void {
    if (this.user !== null) this.emit({ kind: 'signedIn', session: this.sessionView() });
  }

  /** Forgets the token and the user (after signing out, or when the server says so). */
  end(kind: 'signedOut' | 'ended' = 'signedOut', reason?: string): void {
    if (this.user === null) return;
    this.user = null;
    this.token = null;
    this.emit(reason === undefined ? { kind, session: null } : { kind, session: null, reason });
  }

  private fetchToken(force: boolean): Promise<string | null> {
    if (this.flight !== null) return this.flight;
    const flight = this.request(force).finally(() => {
      if (this.flight === flight) this.flight = null;
    });
    this.flight = flight;
    return flight;
  }

  private async request(force: boolean): Promise<string | null> {
    const url = this.options.tokenURL ?? '/api/pyat/token';
    const send = this.options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    const response = await send(force ? `${url}?force=1` : url, {
      headers: { [TOKEN_HEADER]: '1' },
      credentials: 'same-origin',
      cache: 'no-store',
    });
    if (response.status === 401) {
      this.end('ended', 'The session ended.');
      return null;
    }
    if (!response.ok) throw new TypeError(`The token route answered ${response.status}.`);
    const body = (await response.json()) as { accessToken: string; expiresAt: number; user: User };
    const first = this.token === null;
    this.token = { value: body.accessToken, expiresAt: body.expiresAt };
    this.user = body.user;
    if (!first) this.emit({ kind: 'refreshed', session: this.sessionView() });
    return body.accessToken;
  }

  private sessionView(): Session | null {
    if (this.user === null) return null;
    // The browser never holds the refresh token: the session it sees has none.
    return {
      accessToken: this.token?.value ?? '',
      refreshToken: '',
      expiresAt: this.token?.expiresAt ?? 0,
      user: this.user,
    };
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }
}
