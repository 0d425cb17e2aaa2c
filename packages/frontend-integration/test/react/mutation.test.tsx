// The write hooks in Chromium against the real backend: an optimistic write shows at once in
// the data hooks and stays until the server confirms; rollback withdraws it; offline writes wait
// in the outbox (IndexedDB) and go out when the network is back.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { render } from 'vitest-browser-react';
import { configure } from 'vitest-browser-react/pure';
import type { PyAirtableIntegration } from '../../src/integration.js';
import {
  PyAirtableProvider,
  useOptimisticUpdate,
  useOutbox,
  useRecords,
} from '../../src/react/index.js';
import type { Fetch } from '../../src/transport/client.js';
import { makeTable, signedIn } from '../support/backend.js';

beforeAll(() => configure({ reactStrictMode: true }));

const open: PyAirtableIntegration[] = [];
afterEach(async () => {
  for (const pa of open.splice(0)) await pa.close();
});

/** A fetch that holds record writes until `release()` (the server answers late). */
class GatedFetch {
  private gate: Promise<void> | null = null;
  private open: (() => void) | null = null;

  hold(): void {
    this.gate = new Promise((done) => {
      this.open = done;
    });
  }

  release(): void {
    this.open?.();
    this.gate = null;
  }

  readonly fetch: Fetch = async (input, init) => {
    const method = (init?.method ?? 'GET').toUpperCase();
    if (method === 'PATCH' && this.gate !== null) await this.gate;
    return fetch(input, init);
  };
}

function Names({ tableId }: { tableId: string }) {
  const rows = useRecords(tableId, { sort: [{ field: 'Name', direction: 'asc' }] });
  return <p>names: {rows.data?.data.map((row) => String(row.fields.Name)).join(',') ?? '…'}</p>;
}

function Rename({ recordId, to }: { recordId: string; to: string }) {
  const rename = useOptimisticUpdate((name: string) => ({
    kind: 'update',
    recordId,
    fields: { Name: name },
  }));
  return (
    <div>
      <button type="button" onClick={() => void rename.mutate(to).catch(() => undefined)}>
        rename
      </button>
      <button type="button" onClick={() => rename.rollback()}>
        undo
      </button>
      <p>
        status {rename.status} optimistic {String(rename.isOptimistic)}
      </p>
    </div>
  );
}

function Pending() {
  const outbox = useOutbox();
  return (
    <p>
      outbox {String(outbox.enabled)} pending {outbox.pendingCount}
    </p>
  );
}

describe('useOptimisticUpdate', () => {
  it('shows the write at once, keeps it until the server confirms, then shows the server’s record', async () => {
    const gated = new GatedFetch();
    const pa = await signedIn({}, { fetch: gated.fetch });
    open.push(pa);
    const { table } = await makeTable(pa);
    const record = await pa.services.record.createRecord(table.id, { Name: 'before' });
    const screen = await render(
      <PyAirtableProvider integration={pa}>
        <Names tableId={table.id} />
        <Rename recordId={record.id} to="after" />
      </PyAirtableProvider>,
    );
    await expect.element(screen.getByText('names: before')).toBeVisible();
    gated.hold();
    await screen.getByRole('button', { name: 'rename' }).click();
    // Shown before the server has answered.
    await expect.element(screen.getByText('names: after')).toBeVisible();
    await expect.element(screen.getByText('status pending optimistic true')).toBeVisible();
    gated.release();
    await expect.element(screen.getByText('status success optimistic false')).toBeVisible();
    await expect.element(screen.getByText('names: after')).toBeVisible();
    expect((await pa.services.record.getRecord(record.id)).version).toBe(2);
  });

  it('rollback withdraws a write the server has not confirmed yet', async () => {
    const gated = new GatedFetch();
    const pa = await signedIn({}, { fetch: gated.fetch });
    open.push(pa);
    const { table } = await makeTable(pa);
    const record = await pa.services.record.createRecord(table.id, { Name: 'kept' });
    const screen = await render(
      <PyAirtableProvider integration={pa}>
        <Names tableId={table.id} />
        <Rename recordId={record.id} to="withdrawn" />
      </PyAirtableProvider>,
    );
    await expect.element(screen.getByText('names: kept')).toBeVisible();
    gated.hold();
    await screen.getByRole('button', { name: 'rename' }).click();
    await expect.element(screen.getByText('names: withdrawn')).toBeVisible();
    await screen.getByRole('button', { name: 'undo' }).click();
    await expect.element(screen.getByText('names: kept')).toBeVisible();
    gated.release();
  });
});

describe('useOutbox', () => {
  it('counts a write made offline and sees it sent when the network is back', async () => {
    let offline = false;
    const network: Fetch = (input, init) =>
      offline
        ? Promise.reject(
            new TypeError('fetch failed', {
              cause: Object.assign(new Error('offline'), { code: 'ENETUNREACH' }),
            }),
          )
        : fetch(input, init);
    const pa = await signedIn({ features: { enableOfflineSupport: true } }, { fetch: network });
    open.push(pa);
    const { table } = await makeTable(pa);
    const record = await pa.services.record.createRecord(table.id, { Name: 'online' });
    const screen = await render(
      <PyAirtableProvider integration={pa}>
        <Names tableId={table.id} />
        <Rename recordId={record.id} to="offline" />
        <Pending />
      </PyAirtableProvider>,
    );
    await expect.element(screen.getByText('outbox true pending 0')).toBeVisible();
    offline = true;
    await screen.getByRole('button', { name: 'rename' }).click();
    await expect.element(screen.getByText('status queued optimistic true')).toBeVisible();
    await expect.element(screen.getByText('outbox true pending 1')).toBeVisible();
    await expect.element(screen.getByText('names: offline')).toBeVisible();
    // The network is back and the browser says so (its `online` event).
    offline = false;
    pa.online.set(true);
    await expect.element(screen.getByText('outbox true pending 0')).toBeVisible();
    await expect.poll(async () => (await pa.services.record.getRecord(record.id)).version).toBe(2);
  });
});
