// Browser commands (run by Vitest in Node, next to Playwright): real extra tabs of the test's
// browser context, so they share its IndexedDB, Web Locks and BroadcastChannel. A tab loads a
// blank page of the test server's origin and imports the package from source as `window.pyat`.
import type { BrowserCommand } from 'vitest/node';

interface Context {
  page: import('playwright').Page;
  context: import('playwright').BrowserContext;
}

const tabs = new Map<string, import('playwright').Page>();

async function load(page: import('playwright').Page): Promise<void> {
  await page.addScriptTag({
    type: 'module',
    content: "window.pyat = await import('/src/index.ts'); window.pyatReady = true;",
  });
  await page.waitForFunction(() => (window as unknown as { pyatReady?: boolean }).pyatReady);
}

export const openTab: BrowserCommand<[name: string]> = async (ctx, name) => {
  const { page, context } = ctx as unknown as Context;
  const tab = await context.newPage();
  await tab.goto(`${new URL(page.url()).origin}/test/browser/tab.html`);
  await load(tab);
  tabs.set(name, tab);
};

/** Runs `body` (an async function's body; `pyat` and `args` in scope) in the tab; its result. */
export const inTab: BrowserCommand<[name: string, body: string, args?: unknown]> = async (
  _ctx,
  name,
  body,
  args,
) => {
  const tab = tabs.get(name);
  if (tab === undefined) throw new Error(`no tab ${name}`);
  return tab.evaluate(
    ({ body, args }) =>
      new Function('pyat', 'args', `return (async () => { ${body} })();`)(
        (window as unknown as { pyat: unknown }).pyat,
        args,
      ),
    { body, args },
  );
};

export const reloadTab: BrowserCommand<[name: string]> = async (_ctx, name) => {
  const tab = tabs.get(name);
  if (tab === undefined) throw new Error(`no tab ${name}`);
  await tab.reload();
  await load(tab);
};

export const closeTab: BrowserCommand<[name: string]> = async (_ctx, name) => {
  await tabs.get(name)?.close({ runBeforeUnload: false });
  tabs.delete(name);
};
