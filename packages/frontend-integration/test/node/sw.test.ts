// The `/sw` entry against the real backend (IndexedDB from fake-indexeddb): what pages queued is
// drained when the worker starts and on a Background Sync event, with the access token taken
// from the app's session route.
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { OfflineError } from '../../src/errors.js';
import { createPyAirtableIntegration, type PyAirtableIntegration } from '../../src/integration.js';
import { installOutboxSync } from '../../src/sw.js';
import type { Fetch } from '../../src/transport/client.js';
import {
  apiURL,
  makeTable,
  PASSWORD,
  signedIn,
  testOptions,
  uniqueEmail,
} from '../support/backend.js';

const TOKEN_URL = 'https://app.example/api/pyat/token';
const opened: PyAirtableIntegration[] = [];
afterEach(async () => {
  for (const pa of opened.splice(0)) await pa.close();
});

describe('service worker outbox sync', () => {
  it('drains what pages queued at worker start and on Background Sync', async () => {
    const databaseName = 'sw-test';
    const email = uniqueEmail('sw');
    const options = {
      features: { enableOfflineSupport: true },
      offlineConfig: { databaseName },
    };
    const page = await signedIn(options, {}, email);
    opened.push(page);
    const { table } = await makeTable(page);
    const queue = async (name: string) => {
      page.online.set(false);
      await expect(
        page.mutate({ kind: 'create', tableId: table.id, fields: { Name: name } }),
      ).rejects.toBeInstanceOf(OfflineError);
    };
    await queue('first');
    await queue('second');
    await page.close(); // every page is gone; the rows stay in IndexedDB

    // The app's session route: it holds the session and hands out access tokens.
    const session = await signedIn({ enableCaching: false });
    await session.auth.logout();
    await session.auth.login(email, PASSWORD);
    opened.push(session);
    const asked: Headers[] = [];
    const fetch: Fetch = async (input, init) => {
      if (String(input) === TOKEN_URL) {
        asked.push(new Headers(init?.headers));
        return Response.json({ access_token: await session.auth.provider.getToken() });
      }
      return globalThis.fetch(input, init);
    };
    const worker = new EventTarget();
    const started = await installOutboxSync(worker, {
      baseURL: apiURL(),
      tokenURL: TOKEN_URL,
      databaseName,
      fetch,
    });
    expect(started.pending).toBe(0);
    expect(asked[0]?.get('X-PyAirtable-Token')).toBe('1');
    const names = async () =>
      (await session.services.record.getRecords(table.id)).data.map((r) => r.fields.Name);
    expect(await names()).toEqual(['first', 'second']);

    const later = createPyAirtableIntegration(testOptions(options));
    opened.push(later);
    await later.auth.login(email, PASSWORD);
    later.online.set(false);
    await expect(
      later.mutate({ kind: 'create', tableId: table.id, fields: { Name: 'third' } }),
    ).rejects.toBeInstanceOf(OfflineError);
    await later.close();
    const waits: Promise<unknown>[] = [];
    worker.dispatchEvent(
      Object.assign(new Event('sync'), {
        tag: 'pyat-outbox',
        waitUntil: (promise: Promise<unknown>) => waits.push(promise),
      }),
    );
    expect(waits).toHaveLength(1);
    expect(await waits[0]).toMatchObject({ pending: 0 });
    expect(await names()).toEqual(['first', 'second', 'third']);
  });
});
