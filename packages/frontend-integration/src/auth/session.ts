import type { TokenPair, User } from '../types/index.js';

/** A signed-in session: the token pair, when the access token expires (ms epoch), and the user. */
export interface Session {
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly expiresAt: number;
  readonly user: User;
}

export type SessionEventKind = 'signedIn' | 'refreshed' | 'signedOut' | 'ended';

/** A change of session; `reason` says why an `ended` session ended (a refused refresh, say). */
export interface SessionEvent {
  kind: SessionEventKind;
  session: Session | null;
  reason?: string;
}

export type SessionListener = (event: SessionEvent) => void;

export function sessionFromTokenPair(pair: TokenPair, now: number): Session {
  return Object.freeze({
    accessToken: pair.access_token,
    refreshToken: pair.refresh_token,
    expiresAt: now + pair.expires_in * 1000,
    user: pair.user,
  });
}

/** Whether the session's access token expires within `margin` ms of `now`. */
export function expiresWithin(session: Session, margin: number, now: number): boolean {
  return session.expiresAt - now <= margin;
}
