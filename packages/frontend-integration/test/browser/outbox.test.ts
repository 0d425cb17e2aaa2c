// The IndexedDB outbox in Chromium: a tab queues writes offline, starts replaying them, and is
// reloaded mid-replay; the reloaded tab finishes the replay. Every write is on the server once.
import { expect, it } from 'vitest';
import { commands, PASSWORD, SIGN_IN, untilInTab, userWithTable } from './commands.js';

it('survives a reload mid-replay with nothing lost or doubled', async () => {
  const { api, email, client: admin, table } = await userWithTable('outbox');
  const args = {
    api,
    email,
    password: PASSWORD,
    tableId: table.id,
    options: {
      features: { enableRealtime: false, enableOfflineSupport: true },
      offlineConfig: { databaseName: `browser-outbox-${Date.now()}` },
    },
  };

  await commands.openTab('app');
  // Each create takes a while to answer, so the reload lands in the middle of the replay.
  await commands.inTab(
    'app',
    `window.slowFetch = (input, init) => new Promise((done) => setTimeout(done,
       init?.method === 'POST' ? 150 : 0)).then(() => fetch(input, init));
     ${SIGN_IN}
     window.pa.online.set(false);
     for (let i = 0; i < 12; i += 1) {
       await window.pa.mutate({ kind: 'create', tableId: args.tableId, fields: { Name: 'row ' + i } })
         .catch((error) => { if (error.type !== 'OFFLINE') throw error; });
     }
     return window.pa.offline.pendingCount;`,
    args,
  );
  await commands.inTab('app', 'window.pa.online.set(true);');
  await untilInTab('app', 'return (await window.pa.offline.entries()).length <= 8;');
  await commands.reloadTab('app');

  const { queued, left } = await commands.inTab<{ queued: number; left: number }>(
    'app',
    `const db = await pyat.openStorage(args.options.offlineConfig.databaseName);
     const queued = (await db.getAll('outbox')).length; // what the reload left, before any drain
     db.close();
     ${SIGN_IN}
     await window.pa.offline.sync();
     return { queued, left: window.pa.offline.pendingCount };`,
    args,
  );
  expect(queued).toBeGreaterThan(0); // the reload did land mid-replay
  expect(queued).toBeLessThanOrEqual(8);
  expect(left).toBe(0);
  const names: string[] = [];
  for await (const record of admin.services.record.iterRecords(table.id))
    names.push(String(record.fields.Name));
  expect(names.sort()).toEqual(Array.from({ length: 12 }, (_, i) => `row ${i}`).sort());
  await commands.closeTab('app');
  await admin.close();
});
