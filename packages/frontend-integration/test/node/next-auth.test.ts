// The optional Auth.js adapter's callbacks against the real backend: sign-in, no token in the
// client session, one refresh for concurrent expired requests, RefreshTokenError on the session.
import { describe, expect, it } from 'vitest';
import { authOptions, REFRESH_TOKEN_ERROR } from '../../src/next-auth/index.js';
import { apiURL, FaultyFetch, PASSWORD, signedIn, uniqueEmail } from '../support/backend.js';

async function setup() {
  const email = uniqueEmail('authjs');
  await (await signedIn({}, {}, email)).close();
  const faulty = new FaultyFetch();
  let offset = 0;
  const options = authOptions({
    apiURL: apiURL(),
    fetch: faulty.fetch,
    now: () => Date.now() + offset,
  });
  const provider = options.providers[0] as unknown as {
    options: { authorize: (credentials: unknown) => Promise<Record<string, unknown> | null> };
  };
  return {
    email,
    faulty,
    options,
    authorize: (credentials: unknown) => provider.options.authorize(credentials),
    expire: () => {
      offset += 16 * 60_000;
    },
  };
}

describe('the Auth.js adapter', () => {
  it('signs in through /auth/login and keeps the tokens out of the client session', async () => {
    const { email, options, authorize } = await setup();
    expect(await authorize({ email, password: 'wrong password entirely' })).toBeNull();
    const user = await authorize({ email, password: PASSWORD });
    expect(user).toMatchObject({ email });
    const token = await options.callbacks.jwt({ token: { sub: String(user?.id) }, user });
    expect(token.pyat?.accessToken).toMatch(/^ey/);
    const session = await options.callbacks.session({
      session: { user: { email }, expires: '' },
      token,
    });
    expect(JSON.stringify(session)).not.toContain(token.pyat?.accessToken ?? '?');
    expect(JSON.stringify(session)).not.toContain(token.pyat?.refreshToken ?? '?');
    expect(session.user).toMatchObject({ email, id: token.pyat?.userId });
  });

  it('refreshes once for ten concurrent requests with an expired token', async () => {
    const { email, options, authorize, expire, faulty } = await setup();
    const user = await authorize({ email, password: PASSWORD });
    const token = await options.callbacks.jwt({ token: {}, user });
    expire();
    const tokens = await Promise.all(
      Array.from({ length: 10 }, () => options.callbacks.jwt({ token })),
    );
    expect(new Set(tokens.map((t) => t.pyat?.accessToken)).size).toBe(1);
    expect(tokens[0]?.pyat?.accessToken).not.toBe(token.pyat?.accessToken);
    expect(faulty.count('POST', /\/auth\/refresh$/)).toBe(1);
  });

  it('puts RefreshTokenError on the session when the refresh is refused', async () => {
    const { email, options, authorize, expire } = await setup();
    const user = await authorize({ email, password: PASSWORD });
    const token = await options.callbacks.jwt({ token: {}, user });
    await fetch(`${apiURL()}/auth/logout`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refresh_token: token.pyat?.refreshToken }),
    });
    expire();
    const refused = await options.callbacks.jwt({ token });
    expect(refused.error).toBe(REFRESH_TOKEN_ERROR);
    expect(refused.pyat).toBeUndefined();
    const session = await options.callbacks.session({
      session: { user: { email } },
      token: refused,
    });
    expect(session).toMatchObject({ error: REFRESH_TOKEN_ERROR });
  });
});
