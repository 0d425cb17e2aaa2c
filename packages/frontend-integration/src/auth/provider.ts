/**
 * Token providers: where the transport and the realtime connection get the bearer token.
 *
 * `TokenProvider.getToken({ forceRefresh })` (Convex's `fetchToken` shape) is the one seam; the
 * `DirectTokenProvider` here signs in with email and password and keeps the tokens in memory
 * (scripts, Node, tests). The browser-behind-a-server provider (tokens from a Next.js route) is
 * another implementation of the same interface.
 */
import type { Clock } from '../clock.js';
import {
  APIConnectionError,
  AuthenticationError,
  RateLimitedError,
  ServerError,
} from '../errors.js';
import { Subscribable } from '../subscribable.js';
import type { TokenSource } from '../transport/client.js';
import type { TokenPair } from '../types/index.js';
import {
  expiresWithin,
  type Session,
  type SessionListener,
  sessionFromTokenPair,
} from './session.js';

export interface TokenProvider extends TokenSource {
  /** The current session's user id, or null (scopes caches and the outbox to one user). */
  userId(): string | null;
  /** Calls `listener` on every session change; returns the function that stops it. */
  subscribe(listener: SessionListener): () => void;
}

/** What the direct provider sends: the auth service's login, refresh and logout routes. */
export interface AuthRoutes {
  login(email: string, password: string): Promise<TokenPair>;
  refresh(refreshToken: string): Promise<TokenPair>;
  logout(refreshToken: string): Promise<void>;
}

// A refresh that failed this way leaves the refresh token unused: the session is intact.
function isTransient(error: unknown): boolean {
  return (
    error instanceof APIConnectionError ||
    error instanceof ServerError ||
    error instanceof RateLimitedError
  );
}

/**
 * Email-and-password sign-in with the tokens kept in memory.
 *
 * The access token is renewed `refreshMargin` ms before it expires (on the next `getToken`, and
 * by a timer while `autoRefresh` runs) and when a request gets 401. However many callers need a
 * new token at once, exactly one refresh is sent and all of them wait for it. A refresh the
 * backend refuses ends the session and listeners get an `ended` event.
 */
export class DirectTokenProvider extends Subscribable<SessionListener> implements TokenProvider {
  private current: Session | null = null;
  private refreshing: Promise<Session> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Refreshes sent (tests and metrics read it). */
  refreshCount = 0;

  constructor(
    private readonly routes: AuthRoutes,
    private readonly options: { clock: Clock; refreshMargin: number; autoRefresh?: boolean },
  ) {
    super();
  }

  get session(): Session | null {
    return this.current;
  }

  userId(): string | null {
    return this.current?.user.id ?? null;
  }

  /**
   * Signs in and keeps the session.
   *
   * @throws AuthenticationError wrong email or password, or an inactive account.
   * @throws RateLimitedError too many failed sign-ins.
   */
  async login(email: string, password: string): Promise<Session> {
    const pair = await this.routes.login(email, password);
    const session = sessionFromTokenPair(pair, this.options.clock.now());
    this.begin(session, 'signedIn');
    return session;
  }

  /** Revokes the session on the backend (best effort) and forgets it here. */
  async logout(): Promise<void> {
    const session = this.current;
    if (session === null) return;
    try {
      await this.routes.logout(session.refreshToken);
    } catch (error) {
      if (!(error instanceof APIConnectionError || error instanceof AuthenticationError))
        throw error;
    } finally {
      this.end('signedOut');
    }
  }

  /** Adopts a session (one the app restored), or signs out locally with null. */
  setSession(session: Session | null): void {
    if (session === null) this.end('signedOut');
    else this.begin(session, 'signedIn');
  }

  /**
   * The access token to send now, refreshing first when it is due (or when `forceRefresh` and
   * the current token is still the `rejected` one).
   *
   * @throws AuthenticationError the session ended during the refresh.
   * @throws APIConnectionError the token has expired and could not be refreshed.
   */
  async getToken(
    options: { forceRefresh?: boolean; rejected?: string | null } = {},
  ): Promise<string | null> {
    const session = this.current;
    if (session === null) return null;
    if (options.forceRefresh) {
      if (options.rejected != null && session.accessToken !== options.rejected) {
        return session.accessToken;
      }
      try {
        return (await this.refresh()).accessToken;
      } catch (error) {
        if (error instanceof AuthenticationError) return null;
        throw error;
      }
    }
    const now = this.options.clock.now();
    if (!expiresWithin(session, this.options.refreshMargin, now)) return session.accessToken;
    try {
      return (await this.refresh()).accessToken;
    } catch (error) {
      if (isTransient(error) && !expiresWithin(session, 0, this.options.clock.now())) {
        return session.accessToken;
      }
      throw error;
    }
  }

  /**
   * Exchanges the refresh token for a new pair; concurrent callers share one request.
   *
   * @throws AuthenticationError signed out, or the backend refused the refresh token.
   * @throws APIConnectionError the backend could not be reached; the session is kept.
   */
  refresh(): Promise<Session> {
    if (this.refreshing !== null) return this.refreshing;
    const session = this.current;
    if (session === null) return Promise.reject(new AuthenticationError('Not signed in.'));
    const flight = this.sendRefresh(session).finally(() => {
      if (this.refreshing === flight) this.refreshing = null;
    });
    this.refreshing = flight;
    return flight;
  }

  /** Stops the refresh timer. */
  dispose(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private async sendRefresh(session: Session): Promise<Session> {
    let pair: TokenPair;
    try {
      pair = await this.routes.refresh(session.refreshToken);
    } catch (error) {
      if (error instanceof AuthenticationError && this.current === session) {
        this.end('ended', error.message);
      }
      throw error;
    }
    this.refreshCount += 1;
    const fresh = sessionFromTokenPair(pair, this.options.clock.now());
    if (this.current === session) this.begin(fresh, 'refreshed');
    return fresh;
  }

  private begin(session: Session, kind: 'signedIn' | 'refreshed'): void {
    this.current = session;
    this.schedule(session);
    this.emit({ kind, session });
  }

  private end(kind: 'signedOut' | 'ended', reason?: string): void {
    this.current = null;
    this.dispose();
    this.emit(reason === undefined ? { kind, session: null } : { kind, session: null, reason });
  }

  private schedule(session: Session): void {
    this.dispose();
    if (!this.options.autoRefresh) return;
    const due = session.expiresAt - this.options.refreshMargin - this.options.clock.now();
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.refresh().catch(() => {
          // ended sessions were announced; a transient failure is retried by the next getToken
        });
      },
      Math.max(0, due),
    );
    (this.timer as { unref?: () => void }).unref?.();
  }
}
