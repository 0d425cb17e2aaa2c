// The cache over TanStack Query against the real backend: read-through, in-place patching from
// events, version guards and the fetch/event race.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { PyAirtableIntegration } from '../../src/integration.js';
import type { RecordList } from '../../src/types/index.js';
import { FaultyFetch, makeTable, PASSWORD, signedIn, uniqueEmail } from '../support/backend.js';

const FAST = { reconnectDelay: 20, reconnectMaxDelay: 100, pollInterval: 100 };
const opened: PyAirtableIntegration[] = [];
afterEach(async () => {
  for (const pa of opened.splice(0)) await pa.close();
});

async function pair(fetchFor?: FaultyFetch) {
  const email = uniqueEmail('cache');
  const reader = await signedIn(
    { features: { enableRealtime: true }, realtimeConfig: FAST },
    fetchFor ? { fetch: fetchFor.fetch } : {},
    email,
  );
  const writer = await signedIn({ enableCaching: false });
  await writer.auth.logout();
  await writer.auth.login(email, PASSWORD);
  opened.push(reader, writer);
  return { reader, writer };
}

describe('cache', () => {
  it('answers a repeated read from the cache and counts hits and misses', async () => {
    const faulty = new FaultyFetch();
    const pa = await signedIn({}, { fetch: faulty.fetch });
    opened.push(pa);
    await pa.services.workspace.createWorkspace({ name: 'cached' });
    const first = await pa.services.workspace.getWorkspaces();
    const second = await pa.services.workspace.getWorkspaces();
    expect(second).toEqual(first);
    expect(faulty.count('GET', /\/workspaces$/)).toBe(1);
    expect(pa.cache?.getStats()).toEqual({ hits: 1, misses: 1, ratio: 0.5 });
    await pa.services.workspace.createWorkspace({ name: 'another' }); // invalidates the list
    expect((await pa.services.workspace.getWorkspaces()).data).toHaveLength(2);
  });

  it('patches cached lists in place from another client’s writes, by filter and sort', async () => {
    const faulty = new FaultyFetch();
    const { reader, writer } = await pair(faulty);
    const { table } = await makeTable(writer);
    await reader.services.table.getTable(table.id); // the schema the matcher reads
    const query = {
      filter: {
        conjunction: 'and' as const,
        conditions: [{ field: 'Points', operator: 'greater_equal' as const, value: 3 }],
      },
      sort: [{ field: 'Points', direction: 'desc' as const }],
    };
    const low = await writer.services.record.createRecord(table.id, { Name: 'low', Points: 1 });
    await writer.services.record.createRecord(table.id, { Name: 'high', Points: 9 });
    expect(
      (await reader.services.record.getRecords(table.id, query)).data.map((r) => r.fields.Name),
    ).toEqual(['high']);
    await vi.waitFor(() => expect(reader.realtime.getState().state).toBe('live'));
    const fetches = faulty.count('GET', /\/records$/);
    const cached = () =>
      reader.cache?.queryClient
        .getQueryData<RecordList>(['pyat', 'records', table.id, query])
        ?.data.map((r) => r.fields.Name);

    await writer.services.record.createRecord(table.id, { Name: 'mid', Points: 5 });
    await vi.waitFor(() => expect(cached()).toEqual(['high', 'mid']));
    await writer.services.record.updateRecord(low.id, { Points: 7 });
    await vi.waitFor(() => expect(cached()).toEqual(['high', 'low', 'mid']));
    await writer.services.record.deleteRecord(low.id);
    await vi.waitFor(() => expect(cached()).toEqual(['high', 'mid']));
    expect(
      (await reader.services.record.getRecords(table.id, query)).data.map((r) => r.fields.Name),
    ).toEqual(['high', 'mid']);
    expect(faulty.count('GET', /\/records$/)).toBe(fetches);
  });

  it('never lets an answer fetched before a newer event replace it', async () => {
    let gate: (() => void) | null = null;
    const faulty = new FaultyFetch(async (input, init) => {
      const response = await fetch(input, init);
      if (
        gate === null &&
        new URL(String(input)).pathname.endsWith('/records') &&
        (init?.method ?? 'GET') === 'GET'
      ) {
        const body = await response.arrayBuffer(); // read now: the rows as they were
        await new Promise<void>((open) => {
          gate = open;
        });
        return new Response(body, { status: response.status, headers: response.headers });
      }
      return response;
    });
    const { reader, writer } = await pair(faulty);
    const { table } = await makeTable(writer);
    const record = await writer.services.record.createRecord(table.id, { Name: 'v1' });
    await vi.waitFor(() => expect(reader.realtime.getState().state).toBe('live'));
    const slow = reader.services.record.getRecords(table.id);
    await vi.waitFor(() => expect(gate).not.toBeNull());
    await writer.services.record.updateRecord(record.id, { Name: 'v2' });
    await vi.waitFor(() => expect(reader.cache?.knownVersion(record.id)).toBe(2));
    (gate as unknown as () => void)();
    const page = await slow;
    expect(page.data.map((r) => [r.fields.Name, r.version])).toEqual([['v2', 2]]);
  });
});
