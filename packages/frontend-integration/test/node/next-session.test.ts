// The Next.js session against the real backend: the cookie, the CSRF and origin checks, where a
// refresh may start, and one refresh per token however many requests race.
import { describe, expect, it } from 'vitest';
import { SessionExpiredError } from '../../src/next/errors.js';
import { createPyAirtableNext, RequestCookieJar } from '../../src/next/index.js';
import { apiURL, FaultyFetch, PASSWORD, signedIn, uniqueEmail } from '../support/backend.js';

const SECRET = 'a test secret that is long enough to key A256GCM';
const SITE = 'https://app.example';

async function user(): Promise<string> {
  const email = uniqueEmail('next');
  const pa = await signedIn({}, {}, email);
  await pa.close();
  return email;
}

function app(faulty = new FaultyFetch()) {
  let offset = 0;
  const pyat = createPyAirtableNext({
    apiURL: apiURL(),
    secret: SECRET,
    fetch: faulty.fetch,
    now: () => Date.now() + offset,
    client: { retryDelay: 5, retryMaxDelay: 20 },
  });
  return {
    pyat,
    faulty,
    /** Moves the server's clock past the access token's expiry (15 min). */
    expire: () => {
      offset += 16 * 60_000;
    },
  };
}

function post(path: string, init: { body?: unknown; headers?: Record<string, string> } = {}) {
  return new Request(`${SITE}/api/pyat/${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...init.headers },
    body: JSON.stringify(init.body ?? {}),
  });
}

function tokenRequest(cookie: string, headers: Record<string, string> = {}, force = false) {
  return new Request(`${SITE}/api/pyat/token${force ? '?force=1' : ''}`, {
    headers: { cookie, 'X-PyAirtable-Token': '1', 'Sec-Fetch-Site': 'same-origin', ...headers },
  });
}

async function signIn(pyat: ReturnType<typeof app>['pyat'], email: string) {
  const response = await pyat.routes.POST(
    post('login', {
      body: { email, password: PASSWORD },
      headers: { Origin: SITE, 'Sec-Fetch-Site': 'same-origin' },
    }),
  );
  expect(response.status).toBe(200);
  const setCookie = response.headers.get('set-cookie') ?? '';
  const cookie = setCookie.split(';')[0] ?? '';
  const body = (await response.json()) as { csrfToken: string; user: { email: string } };
  return { setCookie, cookie, body };
}

describe('Next.js session routes', () => {
  it('signs in into an httpOnly, Secure, SameSite=Lax cookie that holds no readable token', async () => {
    const { pyat } = app();
    const email = await user();
    const { setCookie, cookie, body } = await signIn(pyat, email);
    expect(setCookie).toMatch(/^__Host-pyat-session=/);
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('Secure');
    expect(setCookie).toContain('SameSite=Lax');
    expect(setCookie).toContain('Path=/');
    expect(body.user.email).toBe(email);
    expect(JSON.stringify(body)).not.toMatch(/token"\s*:\s*"ey/i);
    // A compact JWE: five parts; the only readable one is the header.
    const value = cookie.slice(cookie.indexOf('=') + 1);
    expect(value.split('.')).toHaveLength(5);
    const readable = value
      .split('.')
      .map((part) => Buffer.from(part, 'base64url').toString('latin1'))
      .join(' ');
    expect(readable).not.toContain('refresh');
    expect(readable).not.toContain(email);
    // The token route hands the access token to same-origin pages only.
    const token = await pyat.routes.GET(tokenRequest(cookie));
    expect(token.status).toBe(200);
    const { accessToken } = (await token.json()) as { accessToken: string };
    const me = await fetch(`${apiURL()}/auth/me`, {
      headers: { Authorization: `Bearer ${accessToken}` },
    });
    expect(me.status).toBe(200);
  });

  it('refuses sign-in from another site and the token to requests without the header or from another site', async () => {
    const { pyat } = app();
    const email = await user();
    const body = { email, password: PASSWORD };
    for (const headers of [
      { Origin: 'https://evil.example' },
      { 'Sec-Fetch-Site': 'cross-site', Origin: SITE },
      {},
    ]) {
      expect((await pyat.routes.POST(post('login', { body, headers }))).status).toBe(403);
    }
    const { cookie } = await signIn(pyat, email);
    const bare = new Request(`${SITE}/api/pyat/token`, { headers: { cookie } });
    expect((await pyat.routes.GET(bare)).status).toBe(403);
    expect(
      (await pyat.routes.GET(tokenRequest(cookie, { 'Sec-Fetch-Site': 'cross-site' }))).status,
    ).toBe(403);
    expect(
      (await pyat.routes.GET(tokenRequest(cookie, { 'Sec-Fetch-Site': 'same-site' }))).status,
    ).toBe(403);
  });

  it('refuses a sign-out without the CSRF token; with it, revokes the session and deletes the cookie', async () => {
    const { pyat } = app();
    const { cookie, body } = await signIn(pyat, await user());
    const headers = { cookie, Origin: SITE, 'Sec-Fetch-Site': 'same-origin' };
    const refused = await pyat.routes.POST(post('logout', { headers }));
    expect(refused.status).toBe(403);
    expect(refused.headers.get('set-cookie')).toBeNull();
    expect((await pyat.routes.GET(tokenRequest(cookie))).status).toBe(200);
    const wrong = await pyat.routes.POST(
      post('logout', { headers: { ...headers, 'X-CSRF-Token': `${body.csrfToken}x` } }),
    );
    expect(wrong.status).toBe(403);
    const done = await pyat.routes.POST(
      post('logout', { headers: { ...headers, 'X-CSRF-Token': body.csrfToken } }),
    );
    expect(done.status).toBe(204);
    expect(done.headers.get('set-cookie')).toMatch(/^__Host-pyat-session=; .*Max-Age=0/);
    // The refresh token was revoked at the backend: even the old cookie cannot refresh.
    expect((await pyat.routes.GET(tokenRequest(cookie, {}, true))).status).toBe(401);
  });
});

describe('where a refresh may start', () => {
  it('a Server Component render with an expired token does not spend the refresh token', async () => {
    const { pyat, faulty, expire } = app();
    const { cookie } = await signIn(pyat, await user());
    expire();
    // A Server Component's cookies are read-only: a jar without `set`.
    const value = cookie.slice(cookie.indexOf('=') + 1);
    const rsc = { get: (name: string) => (name === pyat.store.cookie.name ? value : undefined) };
    const session = await pyat.store.read(rsc);
    const client = pyat.store.client(session);
    await expect(client.services.user.getCurrentUser()).rejects.toBeInstanceOf(SessionExpiredError);
    await expect(pyat.store.fresh(rsc)).rejects.toThrow(/cannot be written here/);
    expect(pyat.store.flights.sent).toBe(0);
    expect(faulty.count('POST', /\/auth\/refresh$/)).toBe(0);
    // The refresh token is intact: the next route handler refreshes with it.
    const token = await pyat.routes.GET(tokenRequest(cookie));
    expect(token.status).toBe(200);
    expect(token.headers.get('set-cookie')).toMatch(/^__Host-pyat-session=/);
    expect(faulty.count('POST', /\/auth\/refresh$/)).toBe(1);
  });

  it('sends one refresh for twenty racing requests, and answers the old cookie within the grace window', async () => {
    const { pyat, faulty, expire } = app();
    const { cookie } = await signIn(pyat, await user());
    expire();
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => pyat.routes.GET(tokenRequest(cookie))),
    );
    const tokens = await Promise.all(
      answers.map(async (answer) => ((await answer.json()) as { accessToken: string }).accessToken),
    );
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    expect(new Set(tokens).size).toBe(1);
    expect(faulty.count('POST', /\/auth\/refresh$/)).toBe(1);
    const late = await pyat.routes.GET(tokenRequest(cookie));
    expect(((await late.json()) as { accessToken: string }).accessToken).toBe(tokens[0]);
    expect(faulty.count('POST', /\/auth\/refresh$/)).toBe(1);
  });

  it('the proxy refreshes before the render and hands the new cookie to that render', async () => {
    const { pyat, expire } = app();
    const { cookie } = await signIn(pyat, await user());
    expire();
    const page = new Request(`${SITE}/tables`, { headers: { cookie: `theme=dark; ${cookie}` } });
    const response = await pyat.proxy(page);
    const setCookie = response.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^__Host-pyat-session=/);
    const fresh = setCookie.split(';')[0] ?? '';
    // Next's protocol for "continue with these request headers".
    expect(response.headers.get('x-middleware-next')).toBe('1');
    expect(response.headers.get('x-middleware-request-cookie')).toBe(`theme=dark; ${fresh}`);
    // That render's session is valid without refreshing.
    const jar = new RequestCookieJar(new Request(page.url, { headers: { cookie: fresh } }));
    const session = await pyat.store.view({ get: (name) => jar.get(name) });
    expect(session?.expired).toBe(false);
  });

  it('a refused refresh deletes the cookie and reports the session ended', async () => {
    const { pyat, expire } = app();
    const { cookie, body } = await signIn(pyat, await user());
    const headers = { cookie, Origin: SITE, 'Sec-Fetch-Site': 'same-origin' };
    await pyat.routes.POST(
      post('logout', { headers: { ...headers, 'X-CSRF-Token': body.csrfToken } }),
    );
    expire();
    const answer = await pyat.routes.GET(tokenRequest(cookie));
    expect(answer.status).toBe(401);
    expect(answer.headers.get('set-cookie')).toMatch(/Max-Age=0/);
  });
});
