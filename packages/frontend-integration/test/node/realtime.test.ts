// Realtime against the real backend: every event once, in order, across forced disconnects and
// WebSocket → SSE → polling switches (faults injected at the WebSocket constructor and fetch).
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { PyAirtableIntegration } from '../../src/integration.js';
import type { AirtableEvent } from '../../src/types/index.js';
import { FaultyFetch, makeTable, signedIn } from '../support/backend.js';

const FAST = {
  reconnectDelay: 20,
  reconnectMaxDelay: 100,
  probeDelay: 400,
  pollInterval: 100,
  failuresToFall: 2,
  heartbeatInterval: 2000,
};

/** A WebSocket whose instances the test can cut, and which can be made to fail to connect. */
function controlledWebSocket() {
  const sockets: WebSocket[] = [];
  const control = { blocked: false, sockets };
  class Controlled extends WebSocket {
    constructor(url: string) {
      super(control.blocked ? 'ws://127.0.0.1:9/blocked' : url);
      sockets.push(this);
    }
  }
  return { control, Controlled };
}

const opened: PyAirtableIntegration[] = [];
afterEach(async () => {
  for (const pa of opened.splice(0)) await pa.close();
});

describe('realtime connection', () => {
  it('delivers events live over WebSocket and reports its state', async () => {
    const pa = await signedIn({ enableCaching: false, realtimeConfig: FAST });
    opened.push(pa);
    const { table } = await makeTable(pa);
    const seen: AirtableEvent[] = [];
    const states: string[] = [];
    pa.realtime.onStateChange((s) => states.push(s.state));
    const subscription = pa.realtime.subscribeToRecordChanges(table.id, (event) =>
      seen.push(event),
    );
    await vi.waitFor(() => expect(pa.realtime.getState().state).toBe('live'));
    expect(subscription.state).toBe('live');
    expect(pa.realtime.getState().transport).toBe('websocket');
    const created = await pa.services.record.createRecord(table.id, { Name: 'live' });
    await pa.services.record.updateRecord(created.id, { Name: 'live 2' });
    await vi.waitFor(() =>
      expect(seen.map((e) => e.type)).toEqual(['record.created', 'record.updated']),
    );
    expect(seen[1]?.version).toBe(2);
    expect(states).toContain('connecting');
    const bursts: AirtableEvent[][] = [];
    const batch = pa.realtime.subscribeBatched({ tableId: table.id, windowMs: 200 }, (events) =>
      bursts.push(events),
    );
    await pa.services.record.createRecords(table.id, [{ Name: 'a' }, { Name: 'b' }, { Name: 'c' }]);
    await vi.waitFor(() => expect(bursts.flat()).toHaveLength(3));
    expect(bursts).toHaveLength(1);
    batch.unsubscribe();
    subscription.unsubscribe();
    expect(pa.realtime.getState().state).toBe('idle');
  });

  it('resumes across forced disconnects and WebSocket → SSE → polling → WebSocket with every event once, in order', async () => {
    const { control, Controlled } = controlledWebSocket();
    let sseBlocked = false;
    const faulty = new FaultyFetch(async (input, init) => {
      if (sseBlocked && new URL(String(input)).pathname === '/events') {
        throw new TypeError('fetch failed', {
          cause: Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }),
        });
      }
      return fetch(input, init);
    });
    const pa = await signedIn(
      {
        enableCaching: false,
        retryAttempts: 0,
        breakerFailureThreshold: 1000,
        realtimeConfig: FAST,
      },
      { fetch: faulty.fetch, WebSocket: Controlled },
    );
    opened.push(pa);
    const { table } = await makeTable(pa);
    const seen: AirtableEvent[] = [];
    const transports = new Set<string>();
    pa.realtime.onStateChange((s) => {
      if (s.state === 'live' || s.state === 'fallback') transports.add(s.transport ?? '');
    });
    const start = (await pa.services.event.getEvents({ since: Number.MAX_SAFE_INTEGER, limit: 1 }))
      .next_since;
    pa.realtime.subscribeToRecordChanges(table.id, (event) => seen.push(event));
    await vi.waitFor(() => expect(pa.realtime.getState().state).toBe('live'));

    let written = 0;
    const write = async (count: number) => {
      for (let i = 0; i < count; i += 1) {
        written += 1;
        await pa.services.record.createRecord(table.id, { Name: `r${written}` });
      }
    };
    await write(5);
    // Cut the socket twice while writing: it resumes from its cursor.
    control.sockets.at(-1)?.close();
    await write(5);
    await vi.waitFor(() => expect(pa.realtime.getState().state).toBe('live'));
    control.sockets.at(-1)?.close();
    await write(5);
    // WebSocket unreachable: step down to SSE.
    control.blocked = true;
    control.sockets.at(-1)?.close();
    await write(5);
    await vi.waitFor(() => expect(pa.realtime.getState().transport).toBe('sse'), {
      timeout: 10_000,
    });
    await write(5);
    // SSE unreachable as well: step down to polling.
    sseBlocked = true;
    pa.realtime.connection.reconnectNow();
    await write(5);
    await vi.waitFor(() => expect(pa.realtime.getState().transport).toBe('polling'), {
      timeout: 10_000,
    });
    await write(5);
    // Everything back: the probe climbs to WebSocket again.
    control.blocked = false;
    sseBlocked = false;
    await vi.waitFor(
      () => expect(pa.realtime.getState()).toMatchObject({ state: 'live', transport: 'websocket' }),
      {
        timeout: 15_000,
      },
    );
    await write(5);

    const expected: AirtableEvent[] = [];
    for await (const event of pa.services.event.iterEvents({ since: start, tableId: table.id }))
      expected.push(event);
    expect(expected).toHaveLength(written);
    await vi.waitFor(() => expect(seen).toHaveLength(written), { timeout: 10_000 });
    expect(seen.map((e) => e.seq)).toEqual(expected.map((e) => e.seq));
    expect(new Set(seen.map((e) => e.id)).size).toBe(written);
    expect([...transports]).toEqual(expect.arrayContaining(['websocket', 'sse', 'polling']));
  }, 60_000);
});
