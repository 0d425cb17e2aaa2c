// Helpers for tests against the real backend: fresh users, schema, and fault-injecting fetch.
import { inject } from 'vitest';
import type { Clock } from '../../src/clock.js';
import { systemClock } from '../../src/clock.js';
import type { IntegrationOptions } from '../../src/config.js';
import {
  createPyAirtableIntegration,
  type IntegrationDependencies,
  type PyAirtableIntegration,
} from '../../src/integration.js';
import type { Fetch } from '../../src/transport/client.js';

export const PASSWORD = 'correct horse battery staple';
let counter = 0;

export function apiURL(): string {
  return inject('apiURL');
}

export function uniqueEmail(label = 'user'): string {
  counter += 1;
  return `${label}-${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 8)}@example.com`;
}

/** Options that make tests fast: tiny retry waits, no realtime unless asked. */
export function testOptions(extra: IntegrationOptions = {}): IntegrationOptions {
  return {
    baseURL: apiURL(),
    retryDelay: 5,
    retryMaxDelay: 20,
    ...extra,
    features: { enableRealtime: false, ...extra.features },
  };
}

/** A registered, signed-in integration for a brand-new user. */
export async function signedIn(
  options: IntegrationOptions = {},
  deps: IntegrationDependencies = {},
  email = uniqueEmail(),
): Promise<PyAirtableIntegration> {
  const pa = createPyAirtableIntegration(testOptions(options), deps);
  await pa.services.auth.register({
    email,
    password: PASSWORD,
    firstName: 'Test',
    lastName: 'User',
  });
  await pa.auth.login(email, PASSWORD);
  return pa;
}

/** A workspace, base and table with a few typed fields. */
export async function makeTable(pa: PyAirtableIntegration) {
  const workspace = await pa.services.workspace.createWorkspace({ name: 'Tests' });
  const base = await pa.services.base.createBase({ workspaceId: workspace.id, name: 'Base' });
  const table = await pa.services.table.createTable({
    baseId: base.id,
    name: 'Tasks',
    fields: [
      { name: 'Name', type: 'text' },
      {
        name: 'Status',
        type: 'select',
        options: { choices: [{ name: 'Todo' }, { name: 'Done' }] },
      },
      { name: 'Points', type: 'number' },
      { name: 'Notes', type: 'long_text' },
    ],
  });
  return { workspace, base, table };
}

export interface Recorded {
  method: string;
  url: string;
  headers: Headers;
}

/** A fetch that records every request and can be told to break the next ones. */
export class FaultyFetch {
  readonly requests: Recorded[] = [];
  private readonly faults: ((request: Recorded) => Promise<Response> | 'lose-answer' | null)[] = [];
  private readonly gates: { method: string; path: RegExp; gate: Promise<void> }[] = [];

  constructor(private readonly inner: Fetch = (input, init) => fetch(input, init)) {}

  readonly fetch: Fetch = async (input, init) => {
    const request: Recorded = {
      method: (init?.method ?? 'GET').toUpperCase(),
      url: String(input),
      headers: new Headers(init?.headers),
    };
    this.requests.push(request);
    const held = this.gates.findIndex(
      (g) => g.method === request.method && g.path.test(new URL(request.url).pathname),
    );
    if (held >= 0) await this.gates.splice(held, 1)[0]?.gate;
    const fault = this.faults.shift();
    const outcome = fault?.(request) ?? null;
    if (outcome === 'lose-answer') {
      // The request reaches the server and is applied; its answer is lost on the way back.
      await this.inner(input, init).then((response) => response.arrayBuffer());
      throw new TypeError('fetch failed', {
        cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
      });
    }
    if (outcome !== null) return outcome;
    return this.inner(input, init);
  };

  /** The next matching requests fail: with an answer, by refusing, or by losing the answer. */
  failNext(
    count: number,
    how: 'refuse' | 'lose-answer' | { status: number; body?: unknown; headers?: HeadersInit },
  ): void {
    for (let i = 0; i < count; i += 1) {
      this.faults.push(() => {
        if (how === 'lose-answer') return 'lose-answer';
        if (how === 'refuse') {
          return Promise.reject(
            new TypeError('fetch failed', {
              cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
            }),
          );
        }
        return Promise.resolve(
          new Response(
            JSON.stringify(
              how.body ?? {
                error: { type: 'SERVER_ERROR', message: 'injected' },
                request_id: null,
              },
            ),
            {
              status: how.status,
              headers: {
                'Content-Type': 'application/json',
                ...Object.fromEntries(new Headers(how.headers)),
              },
            },
          ),
        );
      });
    }
  }

  /** The next `method` request to `path` waits until the returned function is called. */
  hold(method: string, path: RegExp): () => void {
    let release = (): void => undefined;
    const gate = new Promise<void>((done) => {
      release = done;
    });
    this.gates.push({ method, path, gate });
    return release;
  }

  count(method: string, path: RegExp): number {
    return this.requests.filter((r) => r.method === method && path.test(new URL(r.url).pathname))
      .length;
  }
}

/** A clock whose `now` can jump ahead (token expiry) while `sleep` stays real but short. */
export class ShiftedClock implements Clock {
  offset = 0;
  now(): number {
    return systemClock.now() + this.offset;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return systemClock.sleep(Math.min(ms, 50), signal);
  }
}
