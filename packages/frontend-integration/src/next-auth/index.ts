/**
 * `@pyairtable/frontend-integration/next-auth`: an optional Auth.js (NextAuth v5) setup for apps
 * that already use Auth.js. Our own session (`/next`) is the default and the safer choice:
 * Auth.js v5 has stayed in beta (5.0.0-beta.32; npm's `latest` is still v4) and its project is in
 * maintenance, and Auth.js cannot tell a JWT callback running in a Server Component (whose
 * refreshed cookie is lost) from one that can save it.
 *
 * ```ts
 * // auth.ts
 * import NextAuth from 'next-auth';
 * export const { handlers, auth, signIn, signOut } = NextAuth(authOptions({ apiURL }));
 * // proxy.ts: `export { auth as proxy } from './auth'` so refreshes happen before pages render.
 * ```
 *
 * - Credentials provider → `/auth/login`; the token pair lives only in Auth.js's encrypted,
 *   httpOnly JWT cookie, never in the client-visible session (`session.user` has id, email,
 *   name; `session.error` says `RefreshTokenError` once the session cannot be refreshed).
 * - The JWT callback refreshes `refreshMargin` before expiry with the same rule as `/next`: one
 *   refresh per refresh token per process, its answer reused for the backend's 10 s grace window.
 *   A margin well above a page's render time lets the proxy refresh before any Server Component
 *   would need to.
 */
import Credentials from 'next-auth/providers/credentials';
import { AuthenticationError } from '../errors.js';
import { createPyAirtableIntegration } from '../integration.js';
import { RefreshFlights } from '../next/refresh.js';
import type { TokenPair, User } from '../types/index.js';

export interface AuthOptionsInput {
  /** The backend's API root as the server reaches it. */
  apiURL: string;
  /** Refresh this long (ms) before the access token expires. Default 120 s. */
  refreshMargin?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

/** What the JWT (server-side, encrypted) holds for us. */
export interface PyAirtableToken {
  accessToken: string;
  refreshToken: string;
  expiresAt: number;
  userId: string;
}

type Token = { [key: string]: unknown; pyat?: PyAirtableToken; error?: string };
type AuthorizedUser = { id: string; email: string; name: string; pyat: PyAirtableToken };

export const REFRESH_TOKEN_ERROR = 'RefreshTokenError';

/** The Auth.js configuration (pass it to `NextAuth(...)`). */
export function authOptions(input: AuthOptionsInput) {
  const now = input.now ?? Date.now;
  const margin = input.refreshMargin ?? 120_000;
  const pa = createPyAirtableIntegration(
    { baseURL: input.apiURL, enableCaching: false, features: { enableRealtime: false } },
    input.fetch ? { fetch: input.fetch } : {},
  );
  const flights = new RefreshFlights((token) => pa.services.auth.refresh(token), {
    graceMs: 10_000,
    now,
  });
  const fromPair = (pair: TokenPair): PyAirtableToken => ({
    accessToken: pair.access_token,
    refreshToken: pair.refresh_token,
    expiresAt: now() + pair.expires_in * 1000,
    userId: pair.user.id,
  });
  const nameOf = (user: User): string => `${user.first_name} ${user.last_name}`.trim();

  return {
    session: { strategy: 'jwt' as const },
    providers: [
      Credentials({
        credentials: { email: { type: 'email' }, password: { type: 'password' } },
        async authorize(credentials): Promise<AuthorizedUser | null> {
          const { email, password } = (credentials ?? {}) as {
            email?: unknown;
            password?: unknown;
          };
          if (typeof email !== 'string' || typeof password !== 'string') return null;
          try {
            const pair = await pa.services.auth.login(email, password);
            return {
              id: pair.user.id,
              email: pair.user.email,
              name: nameOf(pair.user),
              pyat: fromPair(pair),
            };
          } catch (error) {
            if (error instanceof AuthenticationError) return null;
            throw error;
          }
        },
      }),
    ],
    callbacks: {
      /** Keeps the pair in the JWT and refreshes it when due (single-flight per token). */
      async jwt({ token, user }: { token: Token; user?: unknown }): Promise<Token> {
        const signedIn = (user as Partial<AuthorizedUser> | undefined)?.pyat;
        if (signedIn !== undefined) {
          const { error: _cleared, ...rest } = token;
          return { ...rest, pyat: signedIn };
        }
        const current = token.pyat;
        if (current === undefined || current.expiresAt - now() > margin) return token;
        try {
          return { ...token, pyat: fromPair(await flights.refresh(current.refreshToken)) };
        } catch (error) {
          if (error instanceof AuthenticationError) {
            const { pyat: _dropped, ...rest } = token;
            return { ...rest, error: REFRESH_TOKEN_ERROR };
          }
          return token; // unreachable backend: keep the session, try again on the next request
        }
      },
      /** What the browser may see: the user, and the error; never a token. */
      async session({
        session,
        token,
      }: {
        session: { [key: string]: unknown; user?: unknown };
        token: Token;
      }) {
        const base = {
          ...session,
          user: { ...(session.user as object), id: token.pyat?.userId ?? token.sub },
        };
        return token.error ? { ...base, error: token.error } : base;
      },
    },
  };
}

/** The access token in an Auth.js JWT (server code only: `getToken` from `next-auth/jwt`). */
export function accessTokenOf(token: Token | null): string | null {
  return token?.pyat?.accessToken ?? null;
}
