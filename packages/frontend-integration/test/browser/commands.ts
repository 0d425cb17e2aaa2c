// Browser commands (run in Vitest's Node process, driving Playwright): extra tabs of the same
// browser context as the test page, so they share its origin's IndexedDB, Web Locks and
// BroadcastChannel, as real tabs of one site do.
import type { Page } from 'playwright';
import type { BrowserCommand } from 'vitest/node';

const tabs = new Map<string, Page>();
let opened = 0;

/** Opens `path` (a page served by Vitest, e.g. /test/browser/fixtures/tab.html?…) in a new tab. */
export const openTab: BrowserCommand<[path: string]> = async (context, path) => {
  const page = await context.context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') console.error(`[tab] ${message.text()}`);
  });
  const origin = new URL(context.page.url()).origin;
  await page.goto(new URL(path, origin).toString());
  opened += 1;
  const id = `tab${opened}`;
  tabs.set(id, page);
  return id;
};

/** Closes a tab opened by `openTab` (its locks are released, as when a user closes it). */
export const closeTab: BrowserCommand<[id: string]> = async (_context, id) => {
  await tabs.get(id)?.close({ runBeforeUnload: false });
  tabs.delete(id);
};

/** Reloads a tab opened by `openTab`, at once, whatever it was doing. */
export const reloadTab: BrowserCommand<[id: string]> = async (_context, id) => {
  await tabs.get(id)?.reload();
};

declare module 'vitest/browser' {
  interface BrowserCommands {
    openTab: (path: string) => Promise<string>;
    closeTab: (id: string) => Promise<void>;
    reloadTab: (id: string) => Promise<void>;
  }
}
