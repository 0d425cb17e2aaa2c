// Two Chromium tabs of one user share ONE realtime connection, counted by the server: the
// backend of this project admits one realtime connection per user, so both tabs getting every
// event while a third connection of the user is refused (429) shows only one is open. When the
// leading tab closes, the other takes the connection over and misses nothing.
import { expect, it } from 'vitest';
import { commands, PASSWORD, SIGN_IN, untilInTab, userWithTable } from './commands.js';

it('shares one connection between two tabs and hands it over when the leader closes', async () => {
  const { api, email, client: writer, table } = await userWithTable('tabs');
  /** A third realtime connection of the user: refused while the tabs hold the one allowed. */
  const probe = async (): Promise<number> => {
    const token = await writer.auth.provider.getToken();
    const stop = new AbortController();
    const response = await fetch(writer.config.realtimeConfig.sseURL, {
      headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' },
      signal: stop.signal,
    });
    stop.abort();
    return response.status;
  };
  const args = {
    api,
    email,
    password: PASSWORD,
    tableId: table.id,
    options: { features: { enableRealtime: true }, realtimeConfig: { reconnectDelay: 50 } },
  };
  const SUBSCRIBE = `${SIGN_IN}
    window.seen = [];
    window.pa.realtime.subscribeToRecordChanges(args.tableId, (event) => window.seen.push(event.seq));`;
  const state = (tab: string) =>
    commands.inTab<{ state: string; transport: string }>(
      tab,
      'return window.pa.realtime.getState();',
    );

  await commands.openTab('first');
  await commands.inTab('first', SUBSCRIBE, args);
  await untilInTab('first', "return window.pa.realtime.getState().state === 'live';");
  await commands.openTab('second');
  await commands.inTab('second', SUBSCRIBE, args);
  await untilInTab('second', "return window.pa.realtime.getState().state === 'live';");
  expect(await state('first')).toMatchObject({ transport: 'websocket' });
  expect(await state('second')).toMatchObject({ transport: 'tab' });
  expect(await probe()).toBe(429);

  for (const name of ['a', 'b', 'c'])
    await writer.services.record.createRecord(table.id, { Name: name });
  await untilInTab('second', 'return window.seen.length === 3;');
  const first = await commands.inTab<number[]>('first', 'return window.seen;');
  expect(await commands.inTab<number[]>('second', 'return window.seen;')).toEqual(first);

  await commands.closeTab('first');
  await untilInTab('second', "return window.pa.realtime.getState().transport === 'websocket';");
  await untilInTab('second', "return window.pa.realtime.getState().state === 'live';");
  expect(await probe()).toBe(429);
  for (const name of ['d', 'e', 'f'])
    await writer.services.record.createRecord(table.id, { Name: name });
  await untilInTab('second', 'return window.seen.length >= 6;');
  const seen = await commands.inTab<number[]>('second', 'return window.seen;');
  expect(seen).toHaveLength(6);
  expect(seen).toEqual([...seen].sort((a, b) => a - b));
  expect(new Set(seen).size).toBe(6);
  await commands.closeTab('second');
  await writer.close();
});
