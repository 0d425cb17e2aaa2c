// The offline outbox against the real backend, with IndexedDB from fake-indexeddb: rows written
// before sending, per-record order, replay after a "reload" with the same idempotency key
// (applied once), temporary ids, needs-review past the key lifetime, refused writes.
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { OfflineError } from '../../src/errors.js';
import { createPyAirtableIntegration, type PyAirtableIntegration } from '../../src/integration.js';
import type { AirtableRecord } from '../../src/types/index.js';
import {
  FaultyFetch,
  makeTable,
  PASSWORD,
  ShiftedClock,
  signedIn,
  testOptions,
  uniqueEmail,
} from '../support/backend.js';
import { memoryLocks } from '../support/locks.js';

const opened: PyAirtableIntegration[] = [];
afterEach(async () => {
  for (const pa of opened.splice(0)) await pa.close();
});

let databases = 0;
function offlineOptions(databaseName: string) {
  return {
    features: { enableOfflineSupport: true },
    offlineConfig: { databaseName },
    retryAttempts: 1,
  };
}

async function setup() {
  databases += 1;
  const databaseName = `outbox-test-${databases}`;
  const faulty = new FaultyFetch();
  const clock = new ShiftedClock();
  const email = uniqueEmail('outbox');
  const pa = await signedIn(offlineOptions(databaseName), { fetch: faulty.fetch, clock }, email);
  opened.push(pa);
  const { table } = await makeTable(pa);
  await pa.services.table.getTable(table.id);
  const record = await pa.services.record.createRecord(table.id, { Name: 'a', Points: 1 });
  await pa.services.record.getRecords(table.id);
  await vi.waitFor(() => expect(pa.offline?.isLeader).toBe(true));
  faulty.requests.length = 0;
  return { pa, faulty, clock, email, databaseName, table, record };
}

async function serverRecords(
  pa: PyAirtableIntegration,
  tableId: string,
): Promise<AirtableRecord[]> {
  await pa.invalidateCache();
  return (await pa.services.record.getRecords(tableId)).data;
}

describe('offline outbox', () => {
  it('queues writes made offline, shows them, and sends them in order when back online', async () => {
    const { pa, faulty, table, record } = await setup();
    pa.online.set(false);
    const first = pa.mutate({ kind: 'update', recordId: record.id, fields: { Points: 2 } });
    await expect(first).rejects.toBeInstanceOf(OfflineError);
    await expect(
      pa.mutate({ kind: 'update', recordId: record.id, fields: { Name: 'b' } }),
    ).rejects.toBeInstanceOf(OfflineError);
    const created = pa.mutate(
      { kind: 'create', tableId: table.id, fields: { Name: 'new' } },
      { idempotencyKey: 'outbox-create-1' },
    );
    await expect(created).rejects.toMatchObject({ type: 'OFFLINE' });
    await expect(
      pa.mutate({ kind: 'update', recordId: 'tmp_outbox-create-1', fields: { Points: 8 } }),
    ).rejects.toBeInstanceOf(OfflineError);

    // Stored before anything was sent; shown in the cached list.
    expect(faulty.requests.filter((r) => r.method !== 'GET')).toEqual([]);
    expect(pa.offline?.pendingCount).toBe(4);
    expect(pa.getConnectionStatus()).toMatchObject({ online: false, pendingWrites: 4 });
    expect((await pa.offline?.entries())?.map((e) => e.op.kind)).toEqual([
      'update',
      'update',
      'create',
      'update',
    ]);
    const shown = (await pa.services.record.getRecords(table.id)).data;
    expect(shown.map((r) => [r.fields.Name, r.fields.Points])).toEqual([
      ['b', 2],
      ['new', 8],
    ]);

    const counts: number[] = [];
    pa.offline?.subscribe((event) => {
      if (event.kind === 'sent') counts.push(pa.offline?.pendingCount ?? -1);
    });
    pa.online.set(true);
    await vi.waitFor(() => expect(pa.offline?.pendingCount).toBe(0));
    await vi.waitFor(() => expect(pa.optimistic.getPendingUpdates()).toEqual([]));
    // Listeners read the count as each write goes (two records drain side by side).
    expect(counts.sort().reverse()).toEqual([3, 2, 1, 0]);
    const patches = faulty.requests.filter(
      (r) => r.method === 'PATCH' && r.url.endsWith(record.id),
    );
    expect(patches.map((r) => r.headers.get('If-Match'))).toEqual(['"1"', '"2"']);
    const rows = await serverRecords(pa, table.id);
    expect(rows.map((r) => [r.fields.Name, r.fields.Points, r.version])).toEqual([
      ['b', 2, 3],
      ['new', 8, 2],
    ]);
  });

  it('replays after a reload with the same idempotency key: nothing lost, nothing doubled', async () => {
    const { pa, faulty, email, databaseName, table } = await setup();
    // The create reaches the server but every answer is lost: the row stays queued.
    faulty.failNext(2, 'lose-answer');
    await expect(
      pa.mutate({ kind: 'create', tableId: table.id, fields: { Name: 'once' } }),
    ).rejects.toBeInstanceOf(OfflineError);
    const [row] = (await pa.offline?.entries()) ?? [];
    expect(row?.attempts).toBe(1);
    const sentKey = faulty.requests
      .find((r) => r.method === 'POST')
      ?.headers.get('Idempotency-Key');
    expect(sentKey).toBe(row?.id);
    await pa.close(); // the tab goes away

    const replayed = new FaultyFetch();
    const reloaded = createPyAirtableIntegration(testOptions(offlineOptions(databaseName)), {
      fetch: replayed.fetch,
    });
    opened.push(reloaded);
    await reloaded.auth.login(email, PASSWORD);
    await reloaded.offline?.sync();
    expect(reloaded.offline?.pendingCount).toBe(0);
    const post = replayed.requests.find((r) => r.method === 'POST' && r.url.endsWith('/records'));
    expect(post?.headers.get('Idempotency-Key')).toBe(sentKey);
    const rows = await serverRecords(reloaded, table.id);
    expect(rows.filter((r) => r.fields.Name === 'once')).toHaveLength(1);
  });

  it('sets rows older than the key lifetime aside for review instead of replaying them', async () => {
    const { pa, faulty, clock, table, record } = await setup();
    pa.online.set(false);
    await expect(
      pa.mutate({ kind: 'update', recordId: record.id, fields: { Name: 'late' } }),
    ).rejects.toBeInstanceOf(OfflineError);
    clock.offset = 25 * 60 * 60_000;
    pa.online.set(true);
    await vi.waitFor(() => expect(pa.offline?.needsReview()).toHaveLength(1));
    expect(pa.offline?.pendingCount).toBe(0);
    expect(faulty.count('PATCH', /\/records\//)).toBe(0);
    expect(pa.optimistic.getPendingUpdates()).toHaveLength(1); // still shown, not dropped

    const [entry] = pa.offline?.needsReview() ?? [];
    await pa.offline?.retry(entry?.id ?? '');
    await vi.waitFor(() => expect(pa.offline?.needsReview()).toEqual([]));
    await vi.waitFor(() => expect(pa.optimistic.getPendingUpdates()).toEqual([]));
    expect((await serverRecords(pa, table.id))[0]?.fields.Name).toBe('late');
  });

  it('drops a write the backend refuses and rolls its overlay back', async () => {
    const { pa, table, record } = await setup();
    pa.online.set(false);
    const refused = pa.mutate({ kind: 'update', recordId: record.id, fields: { Nope: 1 } });
    await expect(refused).rejects.toBeInstanceOf(OfflineError);
    const outcomes: string[] = [];
    pa.offline?.subscribe((event) => outcomes.push(event.kind));
    pa.online.set(true);
    await vi.waitFor(() => expect(outcomes).toContain('failed'));
    expect(pa.offline?.pendingCount).toBe(0);
    expect(pa.optimistic.getPendingUpdates()).toEqual([]);
    expect((await pa.services.record.getRecords(table.id)).data[0]?.fields).toEqual({
      Name: 'a',
      Points: 1,
    });
  });

  it('lets only the leading tab send; the other tab shows the write and hears the outcome', async () => {
    const databaseName = 'outbox-tabs';
    const locks = memoryLocks();
    const email = uniqueEmail('outbox-tabs');
    const leaderFetch = new FaultyFetch();
    const followerFetch = new FaultyFetch();
    const leader = await signedIn(
      offlineOptions(databaseName),
      { fetch: leaderFetch.fetch, locks },
      email,
    );
    opened.push(leader);
    const follower = createPyAirtableIntegration(testOptions(offlineOptions(databaseName)), {
      fetch: followerFetch.fetch,
      locks,
    });
    opened.push(follower);
    await follower.auth.login(email, PASSWORD);
    await vi.waitFor(() => expect(leader.offline?.isLeader).toBe(true));
    expect(follower.offline?.isLeader).toBe(false);
    const { table } = await makeTable(leader);
    const record = await leader.services.record.createRecord(table.id, { Name: 'a' });
    await leader.services.record.getRecords(table.id);
    await follower.services.record.getRecords(table.id);

    const release = leaderFetch.hold('PATCH', /\/records\//);
    const write = follower.mutate({ kind: 'update', recordId: record.id, fields: { Name: 'b' } });
    // The leader sends it, and shows it meanwhile like the tab that made it.
    await vi.waitFor(async () =>
      expect((await leader.services.record.getRecords(table.id)).data[0]?.fields.Name).toBe('b'),
    );
    expect((await follower.services.record.getRecords(table.id)).data[0]?.fields.Name).toBe('b');
    release();
    expect((await write).record).toMatchObject({ version: 2, fields: { Name: 'b' } });
    expect(leaderFetch.count('PATCH', /\/records\//)).toBe(1);
    expect(followerFetch.count('PATCH', /\/records\//)).toBe(0);
    await vi.waitFor(() => expect(leader.optimistic.getPendingUpdates()).toEqual([]));
    expect((await leader.services.record.getRecords(table.id)).data[0]).toMatchObject({
      version: 2,
      fields: { Name: 'b' },
    });
  });

  it('queues a service write that finds no backend, and sends it later under the same key', async () => {
    const { pa, faulty, table, record } = await setup();
    faulty.failNext(2, 'refuse'); // both attempts (retryAttempts: 1)
    const error = await pa.services.record
      .updateRecord(record.id, { Name: 'queued' })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OfflineError);
    const [entry] = (await pa.offline?.entries()) ?? [];
    expect((error as OfflineError).entryId).toBe(entry?.id);
    expect(entry?.op).toMatchObject({
      kind: 'update',
      recordId: record.id,
      fields: { Name: 'queued' },
    });
    expect((await pa.services.record.getRecords(table.id)).data[0]?.fields.Name).toBe('queued');
    faulty.failNext(2, 'refuse');
    await expect(
      pa.services.record.createRecords(table.id, [{ Name: 'batch' }]),
    ).rejects.not.toBeInstanceOf(OfflineError); // batches are not queued

    await pa.offline?.sync();
    expect(pa.offline?.pendingCount).toBe(0);
    const keys = faulty.requests
      .filter((r) => r.method === 'PATCH')
      .map((r) => r.headers.get('Idempotency-Key'));
    expect(new Set(keys)).toEqual(new Set([entry?.id]));
    expect((await serverRecords(pa, table.id)).map((r) => r.fields.Name)).toEqual(['queued']);
  });
});
