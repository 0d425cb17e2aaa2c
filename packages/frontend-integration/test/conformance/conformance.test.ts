// The TypeScript runner of the shared conformance scenarios (`conformance/scenarios/*.json` at
// the repository's root), through the TS core against the real backend. The Python runner runs
// the same files through the Python SDK.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import 'fake-indexeddb/auto';
import { OfflineError, ServiceError } from '../../src/errors.js';
import { createPyAirtableIntegration, type PyAirtableIntegration } from '../../src/integration.js';
import type { Fields } from '../../src/services/records.js';
import type { Fetch } from '../../src/transport/client.js';
import type { AirtableEvent } from '../../src/types/index.js';
import { startBackend } from '../setup/backend.js';
import {
  apiURL,
  makeTable,
  PASSWORD,
  ShiftedClock,
  testOptions,
  uniqueEmail,
} from '../support/backend.js';

const FOLDER = resolve(import.meta.dirname, '..', '..', '..', '..', 'conformance', 'scenarios');

type Step = { do: string; as?: string; save?: string; [argument: string]: unknown };
interface Scenario {
  name: string;
  description: string;
  needs?: string[];
  /** Backend settings (snake case, `PYAIRTABLE_*` without the prefix): its own backend. */
  server?: { [setting: string]: string | number };
  steps: Step[];
}

interface Sent {
  method: string;
  path: string;
  idempotencyKey: string | null;
}

/** One actor: a user, their client, the requests it sent, and the faults waiting for them. */
class Actor {
  readonly email = uniqueEmail('conformance');
  readonly clock = new ShiftedClock();
  readonly sent: Sent[] = [];
  private readonly lose: { method: string; path: string }[] = [];
  webSocketBlocked = false;
  offline = false;
  readonly pa: PyAirtableIntegration;

  constructor(realtime: boolean, durable: boolean, baseURL: string) {
    const fetcher: Fetch = async (input, init) => {
      if (this.offline) {
        throw new TypeError('fetch failed', {
          cause: Object.assign(new Error('connect ENETUNREACH'), { code: 'ENETUNREACH' }),
        });
      }
      const url = new URL(String(input));
      const method = (init?.method ?? 'GET').toUpperCase();
      const path = url.pathname.replace(/^\/api\/v1/, '');
      this.sent.push({
        method,
        path,
        idempotencyKey: new Headers(init?.headers).get('Idempotency-Key'),
      });
      const at = this.lose.findIndex((f) => f.method === method && f.path === path);
      if (at >= 0) {
        this.lose.splice(at, 1);
        await (await fetch(input, init)).arrayBuffer(); // applied by the server...
        throw new TypeError('fetch failed', {
          cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
        }); // ...but the answer never arrives
      }
      return fetch(input, init);
    };
    // WebSocket handshakes fail while `blockWebSocket` (SSE and polling go through fetch).
    const actor = this;
    const Native = globalThis.WebSocket;
    class Gated extends Native {
      constructor(url: string) {
        super(actor.webSocketBlocked ? 'ws://127.0.0.1:9/' : url);
      }
    }
    this.pa = createPyAirtableIntegration(
      testOptions({
        baseURL,
        enableCaching: false,
        features: { enableRealtime: realtime, enableOfflineSupport: durable },
        // Each actor its own database (fake-indexeddb in Node).
        offlineConfig: { databaseName: `conformance-${this.email}` },
        realtimeConfig: { reconnectDelay: 50, reconnectMaxDelay: 500, probeDelay: 200 },
      }),
      { fetch: fetcher, clock: this.clock, WebSocket: Gated },
    );
  }

  loseNext(method: string, path: string): void {
    this.lose.push({ method, path });
  }
}

class Run {
  readonly actors = new Map<string, Actor>();
  readonly saved = new Map<string, unknown>();
  readonly feeds = new Map<string, AirtableEvent[]>();

  readonly resets = new Set<string>();

  constructor(
    private readonly realtime: boolean,
    private readonly durable: boolean,
    private readonly baseURL: string,
  ) {}

  actor(name: unknown): Actor {
    let found = this.actors.get(String(name));
    if (found === undefined) {
      found = new Actor(this.realtime, this.durable, this.baseURL);
      this.actors.set(String(name), found);
    }
    return found;
  }

  get<T>(name: unknown): T {
    if (!this.saved.has(String(name))) throw new Error(`nothing saved as ${String(name)}`);
    return this.saved.get(String(name)) as T;
  }

  async close(): Promise<void> {
    for (const actor of this.actors.values()) await actor.pa.close();
  }
}

/** Runs `action`; with `expectError`, it must fail with that error type. */
async function outcome<T>(step: Step, action: () => Promise<T>): Promise<T | undefined> {
  if (step.expectError === undefined) return action();
  const error = await action().then(
    () => null,
    (failure: unknown) => failure,
  );
  expect(error, `${step.do} should fail`).toBeInstanceOf(ServiceError);
  expect((error as ServiceError).type).toBe(step.expectError);
  return undefined;
}

/** A durable write made offline: it must answer `OfflineError` (it stays queued). */
async function queued(write: Promise<unknown>): Promise<void> {
  const error = await write.then(
    () => null,
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(OfflineError);
}

const VERBS: { [verb: string]: (run: Run, step: Step) => Promise<void> } = {
  async register(run, step) {
    const actor = run.actor(step.as);
    await actor.pa.services.auth.register({
      email: actor.email,
      password: PASSWORD,
      firstName: 'Conformance',
      lastName: String(step.as),
    });
  },
  async login(run, step) {
    const actor = run.actor(step.as);
    const email = step.email === undefined ? actor.email : run.actor(step.email).email;
    await outcome(step, () => actor.pa.auth.login(email, String(step.password ?? PASSWORD)));
  },
  async expectSignedIn(run, step) {
    const actor = run.actor(step.as);
    expect(actor.pa.auth.isAuthenticated).toBe(true);
    expect((await actor.pa.services.user.getCurrentUser()).email).toBe(actor.email);
  },
  async createTable(run, step) {
    const { workspace, table } = await makeTable(run.actor(step.as).pa);
    run.saved.set(String(step.save), { workspaceId: workspace.id, tableId: table.id });
  },
  async share(run, step) {
    const { workspaceId } = run.get<{ workspaceId: string }>(step.table);
    await run.actor(step.as).pa.services.workspace.addWorkspaceMember(workspaceId, {
      email: run.actor(step.with).email,
      role: step.role as 'editor',
    });
  },
  async createRecord(run, step) {
    const { tableId } = run.get<{ tableId: string }>(step.table);
    const record = await outcome(step, () =>
      run.actor(step.as).pa.services.record.createRecord(tableId, step.fields as Fields),
    );
    if (step.save !== undefined) run.saved.set(step.save, record?.id);
  },
  async updateRecord(run, step) {
    const recordId = run.get<string>(step.record);
    await outcome(step, () =>
      run
        .actor(step.as)
        .pa.services.record.updateRecord(
          recordId,
          step.fields as Fields,
          step.expectedVersion === undefined
            ? {}
            : { expectedVersion: Number(step.expectedVersion) },
        ),
    );
  },
  async expectRecord(run, step) {
    const record = await run.actor(step.as).pa.services.record.getRecord(run.get(step.record));
    if (step.fields !== undefined) expect(record.fields).toMatchObject(step.fields as Fields);
    if (step.version !== undefined) expect(record.version).toBe(step.version);
  },
  async countRecords(run, step) {
    const { tableId } = run.get<{ tableId: string }>(step.table);
    const page = await run.actor(step.as).pa.services.record.getRecords(tableId);
    expect(page.data).toHaveLength(Number(step.equals));
  },
  async loseNextAnswer(run, step) {
    run.actor(step.as).loseNext(String(step.method), String(step.path));
  },
  async expectSameIdempotencyKey(run, step) {
    const sent = run
      .actor(step.as)
      .sent.filter((s) => s.method === step.method && s.path === step.path);
    expect(sent).toHaveLength(Number(step.requests));
    expect(new Set(sent.map((s) => s.idempotencyKey)).size).toBe(1);
    expect(sent[0]?.idempotencyKey).toBeTruthy();
  },
  async expireAccessToken(run, step) {
    run.actor(step.as).clock.offset += 16 * 60_000;
  },
  async concurrentReads(run, step) {
    const { tableId } = run.get<{ tableId: string }>(step.table);
    const pa = run.actor(step.as).pa;
    // Different page sizes: distinct requests (identical GETs would share one).
    await Promise.all(
      Array.from({ length: Number(step.count) }, (_, i) =>
        pa.services.record.getRecords(tableId, { pageSize: i + 1 }),
      ),
    );
  },
  async expectRequests(run, step) {
    const sent = run
      .actor(step.as)
      .sent.filter((s) => s.method === step.method && s.path === step.path);
    expect(sent).toHaveLength(Number(step.equals));
  },
  async subscribe(run, step) {
    const { tableId } = run.get<{ tableId: string }>(step.table);
    const feed: AirtableEvent[] = [];
    run.feeds.set(String(step.save), feed);
    const realtime = run.actor(step.as).pa.realtime;
    realtime.subscribeToRecordChanges(tableId, (event) => feed.push(event), {
      onReset: () => run.resets.add(String(step.save)),
    });
    await expect.poll(() => realtime.getState().state, { timeout: 10_000 }).toBe('live');
  },
  async expectEvents(run, step) {
    const feed = run.feeds.get(String(step.feed)) ?? [];
    await expect
      .poll(() => feed.map((event) => event.type), { timeout: 10_000 })
      .toEqual(step.types);
    expect(new Set(feed.map((event) => event.seq)).size).toBe(feed.length);
    expect(feed.map((event) => event.seq)).toEqual(
      [...feed.map((event) => event.seq)].sort((a, b) => a - b),
    );
  },
  async blockWebSocket(run, step) {
    run.actor(step.as).webSocketBlocked = true;
  },
  async expectTransport(run, step) {
    const realtime = run.actor(step.as).pa.realtime;
    await expect
      .poll(
        () => {
          const { state, transport } = realtime.getState();
          return (state === 'live' || state === 'fallback') && transport === step.transport;
        },
        { timeout: 10_000 },
      )
      .toBe(true);
  },
  async goOffline(run, step) {
    const actor = run.actor(step.as);
    actor.offline = true;
    actor.pa.online.set(false); // the browser's `offline` event
  },
  async goOnline(run, step) {
    const actor = run.actor(step.as);
    actor.offline = false;
    actor.pa.online.set(true); // the browser's `online` event
  },
  async offlineUpdate(run, step) {
    const pa = run.actor(step.as).pa;
    await queued(
      pa.mutate(
        { kind: 'update', recordId: run.get<string>(step.record), fields: step.fields as Fields },
        { durable: true },
      ),
    );
  },
  async offlineCreate(run, step) {
    const { tableId } = run.get<{ tableId: string }>(step.table);
    const pa = run.actor(step.as).pa;
    await queued(
      pa.mutate({ kind: 'create', tableId, fields: step.fields as Fields }, { durable: true }),
    );
  },
  async expectQueued(run, step) {
    const outbox = run.actor(step.as).pa.offline;
    expect(outbox).not.toBeNull();
    await expect.poll(() => outbox?.pendingCount, { timeout: 10_000 }).toBe(step.equals);
  },
  async syncOutbox(run, step) {
    await run.actor(step.as).pa.offline?.sync();
  },
  async pauseRealtime(run, step) {
    run.actor(step.as).pa.realtime.disconnect();
  },
  async resumeRealtime(run, step) {
    run.actor(step.as).pa.realtime.connect();
  },
  async expectEventsGone(run, step) {
    const since = run.feeds.get(String(step.feed))?.at(-1)?.seq ?? 0;
    const writer = [...run.actors.entries()].find(([name]) => name !== step.as)?.[1];
    // The server's housekeeping has no signal to wait on: ask the log again.
    await expect
      .poll(async () => (await writer?.pa.services.event.getEvents({ since }))?.reset, {
        timeout: 10_000,
      })
      .toBe(true);
  },
  async expectReset(run, step) {
    await expect.poll(() => run.resets.has(String(step.feed)), { timeout: 10_000 }).toBe(true);
  },
  async cutConnection(run, step) {
    run.actor(step.as).pa.realtime.connection.reconnectNow();
  },
};

const scenarios: Scenario[] = readdirSync(FOLDER)
  .filter((name) => name.endsWith('.json'))
  .sort()
  .map((name) => JSON.parse(readFileSync(join(FOLDER, name), 'utf8')) as Scenario);

describe('conformance scenarios (TypeScript core)', () => {
  for (const scenario of scenarios) {
    it(`${scenario.name}: ${scenario.description}`, async () => {
      const own =
        scenario.server === undefined
          ? null
          : await startBackend(
              Object.fromEntries(
                Object.entries(scenario.server).map(([name, value]) => [
                  `PYAIRTABLE_${name.toUpperCase()}`,
                  String(value),
                ]),
              ),
            );
      const run = new Run(
        scenario.needs?.includes('realtime') ?? false,
        scenario.needs?.includes('offline') ?? false,
        own?.url ?? apiURL(),
      );
      try {
        for (const [index, step] of scenario.steps.entries()) {
          const verb = VERBS[step.do];
          if (verb === undefined) throw new Error(`step ${index + 1}: unknown verb ${step.do}`);
          await verb(run, step);
        }
      } finally {
        await run.close();
        await own?.stop();
      }
    });
  }
});
