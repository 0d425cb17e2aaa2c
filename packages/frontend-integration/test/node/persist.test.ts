// Query cache and realtime cursor persistence (IndexedDB via fake-indexeddb) against the real
// backend: a "reload" answers from the saved cache, resumes the feed from the saved cursor so a
// change made meanwhile patches it, and sign-out deletes what was kept for the user.
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createPyAirtableIntegration, type PyAirtableIntegration } from '../../src/integration.js';
import { openStorage } from '../../src/storage.js';
import {
  FaultyFetch,
  makeTable,
  PASSWORD,
  signedIn,
  testOptions,
  uniqueEmail,
} from '../support/backend.js';

const FAST = { reconnectDelay: 20, reconnectMaxDelay: 100, pollInterval: 100 };
const opened: PyAirtableIntegration[] = [];
afterEach(async () => {
  for (const pa of opened.splice(0)) await pa.close();
});

const options = (databaseName: string) => ({
  features: { enableRealtime: true },
  realtimeConfig: FAST,
  cacheConfig: { enablePersistence: true },
  offlineConfig: { databaseName },
});

describe('persistence', () => {
  it('restores the cache after a reload and patches it with what changed meanwhile', async () => {
    const databaseName = 'persist-test-1';
    const email = uniqueEmail('persist');
    const pa = await signedIn(options(databaseName), {}, email);
    opened.push(pa);
    const writer = await signedIn({ enableCaching: false });
    await writer.auth.logout();
    await writer.auth.login(email, PASSWORD);
    opened.push(writer);
    const { table } = await makeTable(writer);
    const record = await writer.services.record.createRecord(table.id, { Name: 'before' });
    await pa.services.table.getTable(table.id);
    expect((await pa.services.record.getRecords(table.id)).data).toHaveLength(1);
    await vi.waitFor(() => expect(pa.realtime.getState().state).toBe('live'));
    const cursor = pa.realtime.getState().cursor;
    await pa.close(); // the tab reloads: the cache and the cursor are saved

    await writer.services.record.updateRecord(record.id, { Name: 'meanwhile' });

    const faulty = new FaultyFetch();
    const reloaded = createPyAirtableIntegration(testOptions(options(databaseName)), {
      fetch: faulty.fetch,
    });
    opened.push(reloaded);
    await reloaded.auth.login(email, PASSWORD);
    await reloaded.ready();
    expect(reloaded.realtime.getState().cursor).toBeGreaterThanOrEqual(cursor ?? 0);
    // Patched from the event log since the saved cursor, never fetched again.
    await vi.waitFor(async () =>
      expect((await reloaded.services.record.getRecords(table.id)).data[0]?.fields.Name).toBe(
        'meanwhile',
      ),
    );
    expect(faulty.count('GET', /\/records$/)).toBe(0);
    expect(reloaded.cache?.getStats().misses).toBe(0);

    const userId = (await reloaded.services.user.getCurrentUser()).id;
    await reloaded.auth.logout();
    await vi.waitFor(async () => {
      const db = await openStorage(databaseName);
      const kept = [await db.get('queries', userId), await db.get('cursors', userId)];
      db.close();
      expect(kept).toEqual([undefined, undefined]);
    });
  });

  it('resumes subscriptions after a reload from the saved cursor, without a saved cache', async () => {
    const databaseName = 'persist-test-2';
    const email = uniqueEmail('cursor');
    const cursorOnly = { ...options(databaseName), cacheConfig: { enablePersistence: false } };
    const pa = await signedIn(cursorOnly, {}, email);
    opened.push(pa);
    const writer = await signedIn({ enableCaching: false });
    await writer.auth.logout();
    await writer.auth.login(email, PASSWORD);
    opened.push(writer);
    const { table } = await makeTable(writer);
    const first: string[] = [];
    pa.realtime.subscribeToRecordChanges(table.id, (event) => first.push(event.aggregate_id));
    await vi.waitFor(() => expect(pa.realtime.getState().state).toBe('live'));
    const seen = await writer.services.record.createRecord(table.id, { Name: 'seen' });
    await vi.waitFor(() => expect(first).toContain(seen.id));
    await pa.close();

    const missed = await writer.services.record.createRecord(table.id, { Name: 'while away' });
    const reloaded = createPyAirtableIntegration(testOptions(cursorOnly));
    opened.push(reloaded);
    await reloaded.auth.login(email, PASSWORD);
    await reloaded.ready();
    const heard: string[] = [];
    reloaded.realtime.subscribeToRecordChanges(table.id, (event) => heard.push(event.aggregate_id));
    // Without the saved cursor the new connection would start at the head and miss it.
    await vi.waitFor(() => expect(heard).toContain(missed.id));
    expect(heard).toEqual([missed.id]);
  });
});
