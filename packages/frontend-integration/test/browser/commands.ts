// The browser commands' types (implemented in test/setup/tabs.ts) and shared tab code.
import { commands } from 'vitest/browser';

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
