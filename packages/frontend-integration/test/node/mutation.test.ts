// The one record mutation against the real backend: overlays in every cached view, confirmation
// by version (no flicker), per-record order with If-Match, 409 strategies, temporary ids,
// rollback, and the original design's manual optimistic API.
import { afterAll, describe, expect, it } from 'vitest';
import { temporaryIdOf } from '../../src/cache/overlay.js';
import { InvalidRequestError } from '../../src/errors.js';
import type { PyAirtableIntegration } from '../../src/integration.js';
import type { UpdateEvent } from '../../src/mutation/mutations.js';
import type { AirtableRecord } from '../../src/types/index.js';
import { FaultyFetch, makeTable, PASSWORD, signedIn, uniqueEmail } from '../support/backend.js';

// One user and two clients for the file (signing up is the slow part); a fresh table per test.
let shared: Promise<{
  pa: PyAirtableIntegration;
  other: PyAirtableIntegration;
  faulty: FaultyFetch;
}> | null = null;
afterAll(async () => {
  const clients = await shared;
  await clients?.pa.close();
  await clients?.other.close();
});

const HIGH = {
  filter: {
    conjunction: 'and' as const,
    conditions: [{ field: 'Points', operator: 'greater_equal' as const, value: 5 }],
  },
};

async function setup() {
  shared ??= (async () => {
    const faulty = new FaultyFetch();
    const email = uniqueEmail('mutation');
    const pa = await signedIn({}, { fetch: faulty.fetch }, email);
    const other = await signedIn({ enableCaching: false });
    await other.auth.logout();
    await other.auth.login(email, PASSWORD);
    return { pa, other, faulty };
  })();
  const { pa, other, faulty } = await shared;
  const { table } = await makeTable(pa);
  await pa.services.table.getTable(table.id); // the schema the cache's matcher reads
  const record = await pa.services.record.createRecord(table.id, { Name: 'a', Points: 1 });
  faulty.requests.length = 0;
  return { pa, other, faulty, table, record };
}

const names = (list: { data: AirtableRecord[] }) => list.data.map((r) => r.fields.Name);

describe('optimistic overlays', () => {
  it('shows a pending write in every cached view holding the record, then the server’s data', async () => {
    const { pa, faulty, table, record } = await setup();
    expect(names(await pa.services.record.getRecords(table.id))).toEqual(['a']);
    expect(names(await pa.services.record.getRecords(table.id, HIGH))).toEqual([]);
    await pa.services.record.getRecord(record.id);
    const reads = faulty.count('GET', /\/records/);

    const release = faulty.hold('PATCH', /\/records\//);
    const write = pa.mutate({ kind: 'update', recordId: record.id, fields: { Points: 7 } });
    // Before any answer: the list shows the change, the filtered list gains the record, the
    // single record shows it; nothing was fetched for it.
    const all = await pa.services.record.getRecords(table.id);
    expect(all.data[0]?.fields.Points).toBe(7);
    expect(names(await pa.services.record.getRecords(table.id, HIGH))).toEqual(['a']);
    expect((await pa.services.record.getRecord(record.id)).fields.Points).toBe(7);
    expect(faulty.count('GET', /\/records/)).toBe(reads);
    expect(pa.optimistic.getPendingUpdates()).toMatchObject([
      { kind: 'update', recordId: record.id, fields: { Points: 7 }, baseVersion: 1 },
    ]);

    release();
    const result = await write;
    expect(result).toMatchObject({ applied: true, record: { version: 2 } });
    expect(faulty.requests.find((r) => r.method === 'PATCH')?.headers.get('If-Match')).toBe('"1"');
    expect(pa.optimistic.getPendingUpdates()).toEqual([]);
    expect(pa.cache?.overlay.size).toBe(0);
    const after = await pa.services.record.getRecords(table.id, HIGH);
    expect(after.data).toMatchObject([{ id: record.id, version: 2, fields: { Points: 7 } }]);
  });

  it('keeps a confirmed write on a view until that view’s server data reaches its version', async () => {
    const { pa, table, record } = await setup();
    // A list of some fields only cannot be patched from the answer: it is invalidated and keeps
    // its version-1 copy until it is fetched again.
    const partial = { fields: ['Name', 'Points'] };
    await pa.services.record.getRecords(table.id, partial);
    const key = ['pyat', 'records', table.id, partial];
    const result = await pa.mutate({ kind: 'update', recordId: record.id, fields: { Name: 'b' } });
    expect(result.record?.version).toBe(2);
    const cache = pa.cache;
    if (cache === null) throw new Error('cache expected');
    const stored = cache.queryClient.getQueryData<{ data: AirtableRecord[] }>(key);
    expect(stored?.data[0]).toMatchObject({ version: 1, fields: { Name: 'a' } });
    // No flicker back to "a": the view still shows the write, though nothing is pending.
    expect(cache.view(key, stored)?.data[0]?.fields.Name).toBe('b');
    expect(pa.optimistic.getPendingUpdates()).toEqual([]);
    expect(cache.overlay.size).toBe(1);
    // The refetch brings version 2; only now does the entry go.
    const fresh = await pa.services.record.getRecords(table.id, partial);
    expect(fresh.data[0]).toMatchObject({ version: 2, fields: { Name: 'b' } });
    expect(cache.overlay.size).toBe(0);
  });

  it('sends concurrent writes to one record in order, each with the version the last produced', async () => {
    const { pa, faulty, record } = await setup();
    await pa.services.record.getRecord(record.id);
    const writes = [
      pa.mutate({ kind: 'update', recordId: record.id, fields: { Points: 2 } }),
      pa.mutate({ kind: 'update', recordId: record.id, fields: { Name: 'x' } }),
      pa.mutate({ kind: 'update', recordId: record.id, fields: { Points: 3 } }),
    ];
    expect((await pa.services.record.getRecord(record.id)).fields).toEqual({
      Name: 'x',
      Points: 3,
    });
    const results = await Promise.all(writes);
    expect(results.map((r) => r.record?.version)).toEqual([2, 3, 4]);
    const patches = faulty.requests.filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => r.headers.get('If-Match'))).toEqual(['"1"', '"2"', '"3"']);
    expect(results.every((r) => r.resolution === null)).toBe(true);
    expect((await pa.services.record.getRecord(record.id)).fields).toEqual({
      Name: 'x',
      Points: 3,
    });
  });

  it('rolls back a failed write and leaves the other pending writes shown', async () => {
    const { pa, faulty, table, record } = await setup();
    const second = await pa.services.record.createRecord(table.id, { Name: 'second', Points: 2 });
    await pa.services.record.getRecords(table.id);
    const heard: UpdateEvent[] = [];
    const stop = pa.optimistic.subscribe((event) => heard.push(event));
    const before = pa.getMetrics().optimistic;
    const release = faulty.hold('PATCH', new RegExp(`/records/${record.id}$`));
    const pending = pa.mutate({ kind: 'update', recordId: record.id, fields: { Name: 'held' } });
    await expect(
      pa.mutate({ kind: 'update', recordId: second.id, fields: { Nope: 1 } }),
    ).rejects.toBeInstanceOf(InvalidRequestError);
    const list = await pa.services.record.getRecords(table.id);
    expect(names(list)).toEqual(['held', 'second']);
    expect(heard).toMatchObject([{ outcome: 'rolledBack', update: { recordId: second.id } }]);
    release();
    await pending;
    expect(heard.map((e) => e.outcome)).toEqual(['rolledBack', 'confirmed']);
    stop();
    const after = pa.getMetrics().optimistic;
    expect(after.confirmed - before.confirmed).toBe(1);
    expect(after.rolledBack - before.rolledBack).toBe(1);
    expect(after.successRate).toBe(after.confirmed / (after.confirmed + after.rolledBack));
  });

  it('creates under a temporary id and sends writes made on it to the real id', async () => {
    const { pa, faulty, table } = await setup();
    await pa.services.record.getRecords(table.id);
    const release = faulty.hold('POST', /\/records$/);
    const key = 'create-key-1';
    const tmp = temporaryIdOf(key);
    const create = pa.mutate(
      { kind: 'create', tableId: table.id, fields: { Name: 'new', Points: 5 } },
      { idempotencyKey: key },
    );
    const update = pa.mutate({ kind: 'update', recordId: tmp, fields: { Name: 'renamed' } });
    const shown = await pa.services.record.getRecords(table.id);
    expect(shown.data.map((r) => [r.id, r.fields.Name])).toContainEqual([tmp, 'renamed']);
    release();
    const created = await create;
    const updated = await update;
    const realId = created.record?.id ?? '';
    expect(realId).toMatch(/^rec/);
    expect(updated.record).toMatchObject({ id: realId, version: 2, fields: { Name: 'renamed' } });
    expect(faulty.count('PATCH', new RegExp(`/records/${realId}$`))).toBe(1);
    const list = await pa.services.record.getRecords(table.id);
    expect(list.data.map((r) => r.id)).toContain(realId);
    expect(list.data.some((r) => r.id === tmp)).toBe(false);
    expect(pa.optimistic.resolveId(tmp)).toBe(realId);
  });

  it('offers the original manual API: show, then confirm or roll back', async () => {
    const { pa, table, record } = await setup();
    await pa.services.record.getRecords(table.id);
    const first = pa.optimistic.optimisticUpdateRecord(record.id, { Name: 'manual' });
    expect(pa.optimistic.getPendingUpdates().map((u) => u.updateId)).toEqual([first]);
    expect(names(await pa.services.record.getRecords(table.id))).toEqual(['manual']);
    pa.optimistic.rollbackUpdate(first);
    expect(names(await pa.services.record.getRecords(table.id))).toEqual(['a']);

    const second = pa.optimistic.optimisticUpdateRecord(record.id, { Name: 'sent' });
    const answer = await pa.services.record.updateRecord(record.id, { Name: 'sent' });
    pa.optimistic.confirmUpdate(second, answer);
    expect(pa.optimistic.getPendingUpdates()).toEqual([]);
    expect((await pa.services.record.getRecords(table.id)).data[0]).toMatchObject({
      version: 2,
      fields: { Name: 'sent' },
    });
    expect(() => pa.optimistic.confirmUpdate(second)).toThrow(RangeError);
    const hidden = pa.optimistic.optimisticDeleteRecord(record.id);
    expect(names(await pa.services.record.getRecords(table.id))).toEqual([]);
    pa.optimistic.rollbackUpdate(hidden);
    expect(names(await pa.services.record.getRecords(table.id))).toEqual(['sent']);
  });
});

describe('write conflicts (409 on If-Match)', () => {
  it('merges changes to other fields, and resolves same-field conflicts by strategy', async () => {
    const { pa, other, faulty, record } = await setup();
    await pa.services.record.getRecord(record.id); // our copy: version 1

    // merge: they changed Name, we change Points → resent on top of theirs.
    await other.services.record.updateRecord(record.id, { Name: 'theirs' });
    const merged = await pa.mutate({ kind: 'update', recordId: record.id, fields: { Points: 9 } });
    expect(merged).toMatchObject({
      applied: true,
      resolution: { decidedBy: 'merge', action: 'resend' },
      record: { version: 3, fields: { Name: 'theirs', Points: 9 } },
    });
    const patches = faulty.requests.filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => r.headers.get('If-Match'))).toEqual(['"1"', '"2"']);
    expect(patches[1]?.headers.get('Idempotency-Key')).toBe(
      `${patches[0]?.headers.get('Idempotency-Key')}.1`,
    );

    // merge, both changed Points, no resolver → the server's record is adopted.
    await other.services.record.updateRecord(record.id, { Points: 5 });
    const adopted = await pa.mutate({ kind: 'update', recordId: record.id, fields: { Points: 6 } });
    expect(adopted).toMatchObject({
      applied: false,
      resolution: { decidedBy: 'serverWins', conflicting: ['Points'] },
      record: { version: 4, fields: { Points: 5 } },
    });
    expect((await pa.services.record.getRecord(record.id)).fields.Points).toBe(5);

    // merge with a resolver deciding the same-field conflict.
    await other.services.record.updateRecord(record.id, { Points: 10 });
    const resolved = await pa.mutate(
      { kind: 'update', recordId: record.id, fields: { Points: 1 } },
      {
        resolver: (local, _base, current) => ({
          Points: Number(current.Points) + Number(local.Points),
        }),
      },
    );
    expect(resolved).toMatchObject({ applied: true, record: { fields: { Points: 11 } } });

    // serverWins drops even a non-overlapping change; clientWins overwrites theirs.
    await other.services.record.updateRecord(record.id, { Name: 'again' });
    const server = await pa.mutate(
      { kind: 'update', recordId: record.id, fields: { Points: 2 } },
      { onConflict: 'serverWins' },
    );
    expect(server).toMatchObject({
      applied: false,
      record: { fields: { Name: 'again', Points: 11 } },
    });
    await other.services.record.updateRecord(record.id, { Points: 50 });
    const client = await pa.mutate(
      { kind: 'update', recordId: record.id, fields: { Points: 3 } },
      { onConflict: 'clientWins' },
    );
    expect(client).toMatchObject({ applied: true, record: { fields: { Points: 3 } } });
    expect((await other.services.record.getRecord(record.id)).fields).toEqual({
      Name: 'again',
      Points: 3,
    });
  });

  it('keeps a delete of a record changed meanwhile unless the client wins', async () => {
    const { pa, other, record } = await setup();
    await pa.services.record.getRecord(record.id);
    await other.services.record.updateRecord(record.id, { Name: 'changed' });
    const kept = await pa.mutate({ kind: 'delete', recordId: record.id });
    expect(kept).toMatchObject({ applied: false, record: { fields: { Name: 'changed' } } });
    const deleted = await pa.mutate(
      { kind: 'delete', recordId: record.id },
      { onConflict: 'clientWins', expectedVersion: 1 },
    );
    expect(deleted).toMatchObject({ applied: true, record: null });
    await expect(other.services.record.getRecord(record.id)).rejects.toMatchObject({
      type: 'NOT_FOUND',
    });
  });
});
