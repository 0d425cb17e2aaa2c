// The transport against the real backend, faults injected at the fetch seam.
import { afterEach, describe, expect, it } from 'vitest';
import {
  AuthenticationError,
  CircuitOpenError,
  ConflictError,
  ErrorHandler,
  IdempotencyKeyReusedError,
  InvalidOffsetError,
  InvalidRequestError,
  NetworkError,
  NotFoundError,
  PayloadTooLargeError,
  PermissionDeniedError,
  RateLimitedError,
  ResponseValidationError,
  ServerError,
  ServiceUnavailableError,
  TimeoutError,
} from '../../src/errors.js';
import type { PyAirtableIntegration } from '../../src/integration.js';
import { FaultyFetch, makeTable, ShiftedClock, signedIn } from '../support/backend.js';

const opened: PyAirtableIntegration[] = [];
async function open(...args: Parameters<typeof signedIn>): Promise<PyAirtableIntegration> {
  const pa = await signedIn(...args);
  opened.push(pa);
  return pa;
}
afterEach(async () => {
  for (const pa of opened.splice(0)) await pa.close();
});

describe('retries and idempotency', () => {
  it('replays a write whose answer was lost with the same key: applied once', async () => {
    const faulty = new FaultyFetch();
    const pa = await open({ enableCaching: false }, { fetch: faulty.fetch });
    const { table } = await makeTable(pa);
    faulty.failNext(1, 'lose-answer');
    const record = await pa.services.record.createRecord(table.id, { Name: 'once' });
    const posts = faulty.requests.filter((r) => r.method === 'POST' && r.url.endsWith('/records'));
    expect(posts).toHaveLength(2);
    expect(posts[0]?.headers.get('Idempotency-Key')).toBeTruthy();
    expect(posts[1]?.headers.get('Idempotency-Key')).toBe(posts[0]?.headers.get('Idempotency-Key'));
    expect(posts[1]?.headers.get('X-Request-ID')).toBe(posts[0]?.headers.get('X-Request-ID'));
    const page = await pa.services.record.getRecords(table.id);
    expect(page.data.map((r) => r.id)).toEqual([record.id]);
  });

  it('retries reads after refused connections and 5xx, honouring Retry-After', async () => {
    const faulty = new FaultyFetch();
    const pa = await open({ enableCaching: false }, { fetch: faulty.fetch });
    faulty.failNext(1, 'refuse');
    faulty.failNext(1, { status: 503, headers: { 'Retry-After': '0' } });
    const workspaces = await pa.services.workspace.getWorkspaces();
    expect(workspaces.data).toEqual([]);
    expect(faulty.count('GET', /\/workspaces$/)).toBe(3);
    expect(pa.getMetrics().services.workspace?.retries).toBe(2);
  });

  it('gives up when Retry-After is beyond the cap, and on 4xx at once', async () => {
    const faulty = new FaultyFetch();
    const pa = await open({ enableCaching: false, retryAfterCap: 1000 }, { fetch: faulty.fetch });
    faulty.failNext(1, {
      status: 429,
      headers: { 'Retry-After': '30' },
      body: { error: { type: 'RATE_LIMITED', message: 'slow down' }, request_id: 'r1' },
    });
    const limited = await pa.services.workspace.getWorkspaces().catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(RateLimitedError);
    expect((limited as RateLimitedError).retryAfter).toBe(30);
    expect(ErrorHandler.getErrorMessage(limited)).toContain('30 seconds');
    await expect(pa.services.workspace.getWorkspace('wsp00000000000000')).rejects.toBeInstanceOf(
      NotFoundError,
    );
    expect(faulty.count('GET', /\/workspaces\/wsp/)).toBe(1);
  });

  it('never retries a write without an idempotency key after it was sent', async () => {
    const faulty = new FaultyFetch();
    const pa = await open({ enableCaching: false }, { fetch: faulty.fetch });
    faulty.failNext(1, 'lose-answer');
    // Sign-in routes are sent without a key (they are not idempotent writes).
    await expect(pa.services.auth.validateToken('x')).rejects.toBeInstanceOf(NetworkError);
    expect(faulty.count('POST', /\/auth\/validate$/)).toBe(1);
  });

  it('stops at the total deadline', async () => {
    let delay = 0;
    // A slow network that, like fetch, gives up when the request's signal aborts.
    const faulty = new FaultyFetch(async (input, init) => {
      await new Promise((done, fail) => {
        const timer = setTimeout(done, delay);
        init?.signal?.addEventListener('abort', () => {
          clearTimeout(timer);
          fail(init.signal?.reason);
        });
      });
      return fetch(input, init);
    });
    // The short limits are the call's own, so a slow sign-in on a busy machine cannot trip them.
    const pa = await open({ enableCaching: false }, { fetch: faulty.fetch });
    delay = 5000;
    faulty.requests.length = 0;
    await expect(
      pa.services.workspace.getWorkspaces({}, { timeout: 1000, deadline: 1500 }),
    ).rejects.toBeInstanceOf(TimeoutError);
    expect(faulty.requests.length).toBeGreaterThanOrEqual(1);
    expect(faulty.requests.length).toBeLessThanOrEqual(4);
  });
});

describe('circuit breaker', () => {
  it('opens after repeated failures, refuses without sending, then lets one probe through', async () => {
    const faulty = new FaultyFetch();
    const clock = new ShiftedClock();
    const pa = await open(
      {
        enableCaching: false,
        retryAttempts: 0,
        breakerFailureThreshold: 3,
        breakerResetTimeout: 10_000,
      },
      { fetch: faulty.fetch, clock },
    );
    faulty.failNext(3, { status: 500 });
    for (let i = 0; i < 3; i += 1) {
      await expect(pa.services.workspace.getWorkspaces({ page: i + 1 })).rejects.toBeInstanceOf(
        ServerError,
      );
    }
    const sent = faulty.requests.length;
    const refused = await pa.services.workspace.getWorkspaces().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CircuitOpenError);
    expect(faulty.requests.length).toBe(sent);
    expect(pa.transport.breakerSnapshots().workspace?.state).toBe('open');
    clock.offset += 10_000;
    expect(pa.transport.breakerSnapshots().workspace?.state).toBe('halfOpen');
    await pa.services.workspace.getWorkspaces();
    expect(pa.transport.breakerSnapshots().workspace?.state).toBe('closed');
    // Other services were never affected.
    expect(pa.transport.breakerSnapshots().auth?.state ?? 'closed').toBe('closed');
  });
});

describe('single flight', () => {
  it('sends 100 identical concurrent GETs as one request', async () => {
    const faulty = new FaultyFetch();
    const pa = await open({ enableCaching: false }, { fetch: faulty.fetch });
    await pa.services.workspace.createWorkspace({ name: 'one' });
    const before = faulty.count('GET', /\/workspaces$/);
    const answers = await Promise.all(
      Array.from({ length: 100 }, () => pa.services.workspace.getWorkspaces()),
    );
    expect(faulty.count('GET', /\/workspaces$/) - before).toBe(1);
    expect(new Set(answers.map((a) => a.data[0]?.id)).size).toBe(1);
    expect(answers[0]).not.toBe(answers[1]); // each caller gets its own copy
    expect(pa.getMetrics().services.workspace?.deduplicated).toBe(99);
  });
});

describe('auth', () => {
  it('refreshes once for 100 concurrent calls with an expired token', async () => {
    const faulty = new FaultyFetch();
    const clock = new ShiftedClock();
    const pa = await open({ enableCaching: false }, { fetch: faulty.fetch, clock });
    const before = pa.auth.session?.accessToken;
    clock.offset += 16 * 60_000; // past the access token's 15 minutes
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        pa.services.workspace.getWorkspaces({ page: (i % 7) + 1 }),
      ),
    );
    expect(faulty.count('POST', /\/auth\/refresh$/)).toBe(1);
    expect(pa.auth.session?.accessToken).not.toBe(before);
  });

  it('recovers from a 401 with one refresh, and a refused refresh ends the session', async () => {
    const faulty = new FaultyFetch();
    const pa = await open({ enableCaching: false }, { fetch: faulty.fetch });
    const events: string[] = [];
    pa.auth.onSessionChange((event) => events.push(event.kind));
    faulty.failNext(1, {
      status: 401,
      body: { error: { type: 'AUTH_ERROR', message: 'expired' }, request_id: null },
    });
    await pa.services.workspace.getWorkspaces();
    expect(faulty.count('POST', /\/auth\/refresh$/)).toBe(1);
    expect(events).toEqual(['refreshed']);
    // Another client spends the refresh token: the next refresh is refused (reuse detection).
    const stolen = pa.auth.session?.refreshToken ?? '';
    await fetch(`${pa.config.baseURL}/auth/refresh`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refresh_token: stolen }),
    });
    await new Promise((done) => setTimeout(done, 11_000)); // past the 10 s grace window
    faulty.failNext(1, {
      status: 401,
      body: { error: { type: 'AUTH_ERROR', message: 'expired' }, request_id: null },
    });
    await expect(pa.services.workspace.getWorkspaces({ page: 2 })).rejects.toBeInstanceOf(
      AuthenticationError,
    );
    expect(events.at(-1)).toBe('ended');
    expect(pa.auth.isAuthenticated).toBe(false);
  }, 30_000);
});

describe('errors from the real backend', () => {
  it('maps each error answer to its class with code, type, requestId and details', async () => {
    const pa = await open({ enableCaching: false });
    const outsider = await open({ enableCaching: false });
    const { workspace, table } = await makeTable(pa);
    const record = await pa.services.record.createRecord(table.id, { Name: 'x' });

    const invalid = await pa.services.record
      .createRecord(table.id, { Nope: 1 })
      .catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(InvalidRequestError);
    expect((invalid as InvalidRequestError).code).toBe(422);
    expect(Object.keys((invalid as InvalidRequestError).fields)).toEqual(['Nope']);
    expect((invalid as InvalidRequestError).requestId).toBeTruthy();
    expect(ErrorHandler.getErrorMessage(invalid)).toContain('Nope');

    const conflict = await pa.services.record
      .updateRecord(record.id, { Name: 'y' }, { expectedVersion: 7 })
      .catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(ConflictError);
    expect((conflict as ConflictError).current).toMatchObject({ id: record.id, version: 1 });

    await expect(
      pa.services.record.getRecords(table.id, { offset: 'garbage' }),
    ).rejects.toBeInstanceOf(InvalidOffsetError);
    await expect(outsider.services.workspace.getWorkspace(workspace.id)).rejects.toBeInstanceOf(
      NotFoundError,
    );

    await pa.services.workspace.addWorkspaceMember(workspace.id, {
      email: (await outsider.services.auth.getMe()).email,
      role: 'viewer',
    });
    const denied = await outsider.services.record
      .createRecord(table.id, { Name: 'z' })
      .catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(PermissionDeniedError);
    expect((denied as PermissionDeniedError).details).toMatchObject({ permission: 'record:write' });

    await pa.services.record.createRecord(table.id, { Name: 'k' }, { idempotencyKey: 'same-key' });
    await expect(
      pa.services.record.createRecord(table.id, { Name: 'other' }, { idempotencyKey: 'same-key' }),
    ).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
    await expect(pa.auth.login('nobody@example.com', 'wrong password')).rejects.toBeInstanceOf(
      AuthenticationError,
    );
    await expect(pa.services.record.getRecord('../auth/me')).rejects.toBeInstanceOf(
      InvalidRequestError,
    );
  });

  it('maps 413, 503 and malformed answers', async () => {
    const faulty = new FaultyFetch();
    const pa = await open({ enableCaching: false, retryAttempts: 0 }, { fetch: faulty.fetch });
    faulty.failNext(1, {
      status: 413,
      body: { error: { type: 'PAYLOAD_TOO_LARGE', message: 'big' }, request_id: null },
    });
    await expect(pa.services.workspace.createWorkspace({ name: 'x' })).rejects.toBeInstanceOf(
      PayloadTooLargeError,
    );
    faulty.failNext(1, { status: 503, headers: { 'Retry-After': '2' }, body: '<html>down</html>' });
    const unavailable = await pa.services.workspace.getWorkspaces().catch((e: unknown) => e);
    expect(unavailable).toBeInstanceOf(ServiceUnavailableError);
    expect((unavailable as ServiceUnavailableError).retryAfter).toBe(2);
    faulty.failNext(1, { status: 200, body: [1, 2] });
    await expect(pa.services.workspace.getWorkspaces({ page: 3 })).rejects.toBeInstanceOf(
      ResponseValidationError,
    );
  });
});
