// The browser commands' types (implemented in test/setup/tabs.ts) and shared tab code.
import { inject } from 'vitest';
import { commands } from 'vitest/browser';
import { createPyAirtableIntegration } from '../../src/index.js';

export const PASSWORD = 'correct horse battery staple';

declare module 'vitest/browser' {
  interface BrowserCommands {
    openTab(name: string): Promise<void>;
    inTab<T = unknown>(name: string, body: string, args?: unknown): Promise<T>;
    reloadTab(name: string): Promise<void>;
    closeTab(name: string): Promise<void>;
  }
}

export { commands };

/** Tab code: `window.pa`, an integration of `args.options` signed in as `args.email`. */
export const SIGN_IN = `
  window.pa = pyat.createPyAirtableIntegration(
    { baseURL: args.api, retryDelay: 5, retryMaxDelay: 20, ...args.options },
    window.slowFetch ? { fetch: window.slowFetch } : {},
  );
  await window.pa.auth.login(args.email, args.password);
  await window.pa.ready();
`;

/** Resolves when `check` (tab code returning a boolean) holds, polling every 50 ms. */
export async function untilInTab(tab: string, check: string, args?: unknown): Promise<void> {
  for (let i = 0; i < 400; i += 1) {
    if (await commands.inTab<boolean>(tab, check, args)) return;
    await new Promise((done) => setTimeout(done, 50));
  }
  throw new Error(`never true in ${tab}: ${check}`);
}

/**
 * A new user signed in from the test page itself (no realtime, so it holds no connection) with
 * one table of one text field `Name`.
 */
export async function userWithTable(label: string) {
  const api = inject('apiURL');
  const email = `${label}-${Date.now()}@example.com`;
  const client = createPyAirtableIntegration({ baseURL: api, features: { enableRealtime: false } });
  await client.services.auth.register({ email, password: PASSWORD, firstName: 'B', lastName: 'T' });
  await client.auth.login(email, PASSWORD);
  const workspace = await client.services.workspace.createWorkspace({ name: label });
  const base = await client.services.base.createBase({ workspaceId: workspace.id, name: label });
  const table = await client.services.table.createTable({
    baseId: base.id,
    name: label,
    fields: [{ name: 'Name', type: 'text' }],
  });
  return { api, email, client, table };
}
