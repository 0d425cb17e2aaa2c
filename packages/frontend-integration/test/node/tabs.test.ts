// One realtime connection shared by the "tabs" of a user (integrations in one process with
// shared Web Locks and BroadcastChannel), against the real backend: followers get every event
// once and in order through the leader, and a follower takes over when the leader goes.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createPyAirtableIntegration, type PyAirtableIntegration } from '../../src/integration.js';
import type { AirtableEvent } from '../../src/types/index.js';
import { makeTable, PASSWORD, signedIn, testOptions, uniqueEmail } from '../support/backend.js';
import { memoryLocks } from '../support/locks.js';

const FAST = { reconnectDelay: 20, reconnectMaxDelay: 100, pollInterval: 100 };
const opened: PyAirtableIntegration[] = [];
afterEach(async () => {
  for (const pa of opened.splice(0)) await pa.close();
});

describe('realtime shared across tabs', () => {
  it('runs one socket for two tabs and hands it over when the leader closes', async () => {
    let sockets = 0;
    const Counting = class extends WebSocket {
      constructor(url: string | URL) {
        super(url);
        sockets += 1;
      }
    };
    const locks = memoryLocks();
    const email = uniqueEmail('tabs');
    const options = { features: { enableRealtime: true }, realtimeConfig: FAST };
    const deps = { locks, WebSocket: Counting };
    const first = await signedIn(options, deps, email);
    const second = createPyAirtableIntegration(testOptions(options), deps);
    await second.auth.login(email, PASSWORD);
    const writer = await signedIn({ enableCaching: false });
    await writer.auth.logout();
    await writer.auth.login(email, PASSWORD);
    opened.push(first, second, writer);
    const { table } = await makeTable(writer);

    const seen: { [tab: string]: number[] } = { first: [], second: [] };
    const record = (tab: string) => (event: AirtableEvent) => seen[tab]?.push(event.seq);
    first.realtime.subscribeToRecordChanges(table.id, record('first'));
    second.realtime.subscribeToRecordChanges(table.id, record('second'));
    await vi.waitFor(() => {
      expect(first.realtime.getState()).toMatchObject({ state: 'live', transport: 'websocket' });
      expect(second.realtime.getState()).toMatchObject({ state: 'live', transport: 'tab' });
    });
    expect(first.getConnectionStatus().leadsTabs).toBe(true);
    expect(second.getConnectionStatus().leadsTabs).toBe(false);

    for (const name of ['a', 'b', 'c'])
      await writer.services.record.createRecord(table.id, { Name: name });
    await vi.waitFor(() => expect(seen.second).toHaveLength(3));
    expect(seen.second).toEqual(seen.first);
    expect(sockets).toBe(1);

    await first.close(); // the leading tab goes away
    await vi.waitFor(() =>
      expect(second.realtime.getState()).toMatchObject({ state: 'live', transport: 'websocket' }),
    );
    expect(second.getConnectionStatus().leadsTabs).toBe(true);
    for (const name of ['d', 'e', 'f'])
      await writer.services.record.createRecord(table.id, { Name: name });
    await vi.waitFor(() => expect(seen.second).toHaveLength(6));
    const ordered = [...(seen.second ?? [])].sort((a, b) => a - b);
    expect(seen.second).toEqual(ordered);
    expect(new Set(seen.second).size).toBe(6);
    expect(sockets).toBe(2);
  });
});
