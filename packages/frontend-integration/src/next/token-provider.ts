/** The server's token provider: the request's session, never refreshed. */

import type { TokenProvider } from '../auth/provider.js';
import type { SessionListener } from '../auth/session.js';
import { Subscribable } from '../subscribable.js';
import type { SessionData } from './cookie.js';
import { SessionExpiredError } from './errors.js';

/**
 * Hands out the session's access token while it is valid. An expired one is not refreshed (this
 * runs where the new pair could not be saved, such as a Server Component): the call fails with
 * `SessionExpiredError`, and the refresh token stays unspent.
 */
export class SessionTokenProvider extends Subscribable<SessionListener> implements TokenProvider {
  constructor(
    private readonly session: SessionData | null,
    private readonly now: () => number,
  ) {
    super();
  }

  userId(): string | null {
    return this.session?.user.id ?? null;
  }

  /** @throws SessionExpiredError the access token has expired. */
  async getToken(options: { forceRefresh?: boolean } = {}): Promise<string | null> {
    if (this.session === null) return null;
    if (options.forceRefresh || this.session.expiresAt <= this.now()) {
      throw new SessionExpiredError();
    }
    return this.session.accessToken;
  }
}
