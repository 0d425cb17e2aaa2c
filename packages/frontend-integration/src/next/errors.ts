/** Errors of the Next.js session layer. */
import { AuthenticationError } from '../errors.js';

/** A Server Component found the access token expired; it may not refresh (it cannot save the result). */
export class SessionExpiredError extends AuthenticationError {
  static override readonly defaultType: string = 'AUTH_ERROR';
  constructor() {
    super(
      'The session needs a refresh, which only the proxy, a route handler or a server action may do.',
      { code: 401, details: { reason: 'access_token_expired' } },
    );
  }
}
