// The React hooks in Chromium against the real backend, rendered under StrictMode (effects run,
// are cleaned up and run again): data stays live, and nothing outlives its component.
import { StrictMode, useState } from 'react';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { render } from 'vitest-browser-react';
import { configure } from 'vitest-browser-react/pure';
import { createPyAirtableIntegration, type PyAirtableIntegration } from '../../src/integration.js';
import type { ClientSession } from '../../src/react/index.js';
import {
  PyAirtableErrorBoundary,
  PyAirtableProvider,
  useCan,
  useConnectionState,
  useInfiniteRecords,
  usePyAirtable,
  useRealtime,
  useRecord,
  useRecords,
  useSession,
  useTables,
  useWorkspaces,
} from '../../src/react/index.js';
import type { AirtableEvent } from '../../src/types/index.js';
import { FaultyFetch, makeTable, PASSWORD, signedIn, testOptions } from '../support/backend.js';

beforeAll(() => configure({ reactStrictMode: true }));

const open: PyAirtableIntegration[] = [];
afterEach(async () => {
  for (const pa of open.splice(0)) await pa.close();
});

async function integration(realtime = false, fetch?: FaultyFetch): Promise<PyAirtableIntegration> {
  const pa = await signedIn(
    { features: { enableRealtime: realtime }, retryAttempts: 0 },
    fetch ? { fetch: fetch.fetch } : {},
  );
  open.push(pa);
  return pa;
}

/** Counts the listeners that `subscribe` added and did not remove yet. */
function countListeners(target: { subscribe(listener: never): () => void }): () => number {
  let active = 0;
  const original = target.subscribe.bind(target);
  target.subscribe = ((listener: never) => {
    active += 1;
    const stop = original(listener);
    let stopped = false;
    return () => {
      if (!stopped) active -= 1;
      stopped = true;
      stop();
    };
  }) as typeof target.subscribe;
  return () => active;
}

function observers(pa: PyAirtableIntegration): number {
  return (
    pa.cache?.queryClient
      .getQueryCache()
      .getAll()
      .reduce((sum, query) => sum + query.getObserversCount(), 0) ?? 0
  );
}

function Rows({ tableId }: { tableId: string }) {
  const records = useRecords(tableId, { sort: [{ field: 'Name', direction: 'asc' }] });
  if (records.isPending) return <p>loading</p>;
  return (
    <ul>
      {records.data?.data.map((row) => (
        <li key={row.id}>{String(row.fields.Name)}</li>
      ))}
    </ul>
  );
}

function Summary({ recordId, baseId }: { recordId: string; baseId: string }) {
  const one = useRecord(recordId);
  const workspaces = useWorkspaces();
  const tables = useTables(baseId);
  return (
    <p>
      {String(one.data?.fields.Name ?? '…')} / {workspaces.data?.data.map((w) => w.name).join()} /{' '}
      {tables.data?.data.map((t) => t.name).join()}
    </p>
  );
}

function Pages({ tableId }: { tableId: string }) {
  const pages = useInfiniteRecords(tableId, {
    pageSize: 2,
    sort: [{ field: 'Name', direction: 'asc' }],
  });
  const rows = pages.data?.pages.flatMap((page) => page.data) ?? [];
  return (
    <div>
      <p>{rows.map((row) => String(row.fields.Name)).join(',') || 'none'}</p>
      <button type="button" disabled={!pages.hasNextPage} onClick={() => pages.fetchNextPage()}>
        more
      </button>
    </div>
  );
}

function Gate({ workspaceId, foreignId }: { workspaceId: string; foreignId: string }) {
  const write = useCan('record:write', { workspaceId });
  const bogus = useCan('no:such-permission', { workspaceId });
  const foreign = useCan('record:write', { workspaceId: foreignId });
  return (
    <p>
      {String(write.allowed)} {String(bogus.allowed)} {String(foreign.allowed)}
    </p>
  );
}

function Who() {
  const session = useSession();
  return <p>{session === null ? 'signed out' : session.user.email}</p>;
}

function Live() {
  const state = useConnectionState();
  return <p>live: {state.state === 'live' ? 'yes' : 'no'}</p>;
}

function Feed({ tableId, seen }: { tableId: string; seen: AirtableEvent[] }) {
  const status = useRealtime({ channel: 'record', filters: { tableId } }, (event) =>
    seen.push(event),
  );
  return (
    <p>
      connected {String(status.connected)} subscribed {String(status.subscribed)}
    </p>
  );
}

function Everything({ tableId }: { tableId: string }) {
  useRealtime({ channel: 'record', filters: { tableId } }, () => {});
  useSession();
  return (
    <>
      <Live />
      <Rows tableId={tableId} />
    </>
  );
}

function Capture({ seen }: { seen: PyAirtableIntegration[] }) {
  const pa = usePyAirtable();
  if (!seen.includes(pa)) seen.push(pa);
  return <p>ready</p>;
}

function Switch({ pa, user }: { pa: PyAirtableIntegration; user: ClientSession['user'] }) {
  const [session, setSession] = useState<ClientSession | null>({ user });
  return (
    <PyAirtableProvider integration={pa} session={session}>
      <button type="button" onClick={() => setSession(null)}>
        sign out
      </button>
    </PyAirtableProvider>
  );
}

function One({ recordId }: { recordId: string }) {
  const one = useRecord(recordId, { throwOnError: true });
  return <p>{one.data ? String(one.data.fields.Name) : 'loading'}</p>;
}

describe('data hooks', () => {
  it('useRecords shows the rows and follows writes made elsewhere through realtime', async () => {
    const pa = await integration(true);
    const { table } = await makeTable(pa);
    await pa.services.record.createRecord(table.id, { Name: 'b-first' });
    // The feed must be live before a write elsewhere can reach this cache.
    const screen = await render(
      <PyAirtableProvider integration={pa}>
        <Live />
        <Rows tableId={table.id} />
      </PyAirtableProvider>,
    );
    await expect.element(screen.getByText('b-first')).toBeVisible();
    await expect.element(screen.getByText('live: yes')).toBeVisible();
    // Another session of the same user writes: the event patches the cached, sorted list.
    const other = createPyAirtableIntegration(testOptions());
    open.push(other);
    await other.auth.login(pa.auth.user?.email ?? '', PASSWORD);
    await other.services.record.createRecord(table.id, { Name: 'a-second' });
    await expect.element(screen.getByRole('listitem').first()).toHaveTextContent('a-second');
    expect(screen.getByRole('listitem').all()).toHaveLength(2);
  });

  it('useRecord, useWorkspaces and useTables read through the same cache the services fill', async () => {
    const pa = await integration();
    const { workspace, base, table } = await makeTable(pa);
    const record = await pa.services.record.createRecord(table.id, { Name: 'one' });
    const screen = await render(
      <PyAirtableProvider integration={pa}>
        <Summary recordId={record.id} baseId={base.id} />
      </PyAirtableProvider>,
    );
    await expect.element(screen.getByText(`one / ${workspace.name} / ${table.name}`)).toBeVisible();
    // A write through the services reaches the hook without a refetch.
    await pa.services.record.updateRecord(record.id, { Name: 'two' });
    await expect.element(screen.getByText(`two / ${workspace.name} / ${table.name}`)).toBeVisible();
  });

  it('useInfiniteRecords loads the next cursor page on demand', async () => {
    const pa = await integration();
    const { table } = await makeTable(pa);
    await pa.services.record.createRecords(
      table.id,
      ['r1', 'r2', 'r3', 'r4', 'r5'].map((Name) => ({ Name })),
    );
    const screen = await render(
      <PyAirtableProvider integration={pa}>
        <Pages tableId={table.id} />
      </PyAirtableProvider>,
    );
    await expect.element(screen.getByText('r1,r2')).toBeVisible();
    await screen.getByRole('button', { name: 'more' }).click();
    await expect.element(screen.getByText('r1,r2,r3,r4')).toBeVisible();
    await screen.getByRole('button', { name: 'more' }).click();
    await expect.element(screen.getByText('r1,r2,r3,r4,r5')).toBeVisible();
    await expect.element(screen.getByRole('button', { name: 'more' })).toBeDisabled();
  });

  it('useCan answers from the workspace permissions; a workspace not joined is false', async () => {
    const pa = await integration();
    const { workspace } = await makeTable(pa);
    const stranger = await integration();
    const theirs = await stranger.services.workspace.createWorkspace({ name: 'Theirs' });
    const screen = await render(
      <PyAirtableProvider integration={pa}>
        <Gate workspaceId={workspace.id} foreignId={theirs.id} />
      </PyAirtableProvider>,
    );
    await expect.element(screen.getByText('true false false')).toBeVisible();
  });

  it('useSession follows the integration’s sign-out', async () => {
    const pa = await integration();
    const screen = await render(
      <PyAirtableProvider integration={pa}>
        <Who />
      </PyAirtableProvider>,
    );
    await expect.element(screen.getByText(pa.auth.user?.email ?? '?')).toBeVisible();
    await pa.auth.logout();
    await expect.element(screen.getByText('signed out')).toBeVisible();
  });
});

describe('realtime hooks', () => {
  it('useRealtime delivers matching events and reports its subscription confirmed', async () => {
    const pa = await integration(true);
    const { table } = await makeTable(pa);
    const seen: AirtableEvent[] = [];
    const screen = await render(
      <PyAirtableProvider integration={pa}>
        <Feed tableId={table.id} seen={seen} />
      </PyAirtableProvider>,
    );
    await expect.element(screen.getByText('connected true subscribed true')).toBeVisible();
    const record = await pa.services.record.createRecord(table.id, { Name: 'x' });
    await expect.poll(() => seen.map((event) => event.aggregate_id)).toEqual([record.id]);
  });

  it('leaves no subscription, listener or observer behind after unmount (StrictMode mounts twice)', async () => {
    const pa = await integration(true);
    const { table } = await makeTable(pa);
    const connection = pa.realtime.connection;
    // The integration's own feed keeps the connection live; count only what components add.
    await expect.poll(() => pa.realtime.getState().state).toBe('live');
    const stateListeners = countListeners(connection);
    const onlineListeners = countListeners(pa.online);
    const sessionListeners = countListeners(pa.auth.provider);
    const subscriptionsBefore = connection.subscriptionCount;
    const screen = await render(
      <PyAirtableProvider integration={pa}>
        <Everything tableId={table.id} />
      </PyAirtableProvider>,
    );
    await expect.element(screen.getByText('live: yes')).toBeVisible();
    // StrictMode subscribed twice and removed one: exactly one of each is left.
    expect(connection.subscriptionCount).toBe(subscriptionsBefore + 1);
    expect(sessionListeners()).toBe(1);
    expect(onlineListeners()).toBe(1);
    expect(stateListeners()).toBeGreaterThan(0);
    expect(observers(pa)).toBeGreaterThan(0);
    await screen.unmount();
    expect(connection.subscriptionCount).toBe(subscriptionsBefore);
    expect(stateListeners()).toBe(0);
    expect(onlineListeners()).toBe(0);
    expect(sessionListeners()).toBe(0);
    expect(observers(pa)).toBe(0);
  });
});

describe('PyAirtableProvider', () => {
  it('builds an integration from a config, keeps it through StrictMode and closes it on unmount', async () => {
    const seen: PyAirtableIntegration[] = [];
    const screen = await render(
      <PyAirtableProvider config={testOptions()}>
        <Capture seen={seen} />
      </PyAirtableProvider>,
    );
    await expect.element(screen.getByText('ready')).toBeVisible();
    // Let a deferred close (if StrictMode's rehearsal left one) run: it must have been cancelled.
    await new Promise((done) => setTimeout(done, 20));
    const [pa] = seen;
    expect(seen).toHaveLength(1);
    const connection = pa?.realtime.connection;
    expect(connection?.snapshot.state).not.toBe('closed');
    await screen.unmount();
    await expect.poll(() => connection?.snapshot.state).toBe('closed');
  });

  it('drops the cached data when the session’s user changes', async () => {
    const pa = await integration();
    const { table } = await makeTable(pa);
    await pa.services.record.getRecords(table.id);
    const user = pa.auth.user;
    if (user === null) throw new Error('signed in expected');
    const screen = await render(
      <StrictMode>
        <Switch pa={pa} user={user} />
      </StrictMode>,
    );
    expect(pa.cache?.queryClient.getQueryCache().getAll().length).toBeGreaterThan(0);
    await screen.getByRole('button', { name: 'sign out' }).click();
    await expect.poll(() => pa.cache?.queryClient.getQueryCache().getAll().length).toBe(0);
  });
});

describe('PyAirtableErrorBoundary', () => {
  it('shows ErrorHandler’s message and fetches again on retry', async () => {
    const faulty = new FaultyFetch();
    const pa = await integration(false, faulty);
    const { table } = await makeTable(pa);
    const record = await pa.services.record.createRecord(table.id, { Name: 'back' });
    pa.clearCache();
    // Two: React renders a component that threw once more before it shows the boundary.
    faulty.failNext(2, { status: 503 });
    const screen = await render(
      <PyAirtableProvider integration={pa}>
        <PyAirtableErrorBoundary>
          <One recordId={record.id} />
        </PyAirtableErrorBoundary>
      </PyAirtableProvider>,
    );
    await expect
      .element(screen.getByRole('alert'))
      .toHaveTextContent(/temporarily unavailable|try again/i);
    await screen.getByRole('button', { name: 'Try again' }).click();
    await expect.element(screen.getByText('back')).toBeVisible();
  });
});
