// The IndexedDB outbox in Chromium: a tab queues 12 creates offline and starts replaying them;
// of the sends, 3 are answered, 3 reach the server but their answers never come back, 6 never
// leave the page. The tab is reloaded mid-replay; the reloaded tab finishes the replay with the
// same idempotency keys. Every create is on the server exactly once.
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
  await commands.inTab(
    'app',
    `window.posts = 0;
     window.slowFetch = (input, init) => {
       if (init?.method !== 'POST' || !String(input).endsWith('/records')) return fetch(input, init);
       window.posts += 1;
       if (window.posts <= 3) return fetch(input, init);
       const lost = new Promise(() => {});
       if (window.posts <= 6) return fetch(input, init).then(() => lost); // applied, answer lost
       return lost; // never sent
     };
     ${SIGN_IN}
     window.pa.online.set(false);
     for (let i = 0; i < 12; i += 1) {
       await window.pa.mutate({ kind: 'create', tableId: args.tableId, fields: { Name: 'row ' + i } })
         .catch((error) => { if (error.type !== 'OFFLINE') throw error; });
     }
     window.pa.online.set(true);`,
    args,
  );
  await untilInTab('app', 'return window.posts === 12;');
  const onServer = async () => {
    await admin.invalidateCache();
    return (await admin.services.record.getRecords(table.id)).data.length;
  };
  for (let i = 0; i < 200 && (await onServer()) < 6; i += 1)
    await new Promise((done) => setTimeout(done, 50));
  expect(await onServer()).toBe(6);
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
  expect(queued).toBe(9); // the 3 whose answers were lost and the 6 never sent
  expect(left).toBe(0);
  await admin.invalidateCache();
  const names: string[] = [];
  for await (const record of admin.services.record.iterRecords(table.id))
    names.push(String(record.fields.Name));
  expect(names.sort()).toEqual(Array.from({ length: 12 }, (_, i) => `row ${i}`).sort());
  await commands.closeTab('app');
  await admin.close();
});
