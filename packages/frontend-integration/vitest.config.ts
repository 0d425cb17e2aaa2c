import { createServer } from 'node:net';
import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vitest/config';
import { closeTab, inTab, openTab, reloadTab } from './test/setup/tabs.js';

/** A free loopback port for the browser project's page server (the backend allows its origin). */
function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => done(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export default defineConfig(async () => {
  const pagePort = await freePort();
  process.env.PYAT_BROWSER_ORIGIN = `http://localhost:${pagePort}`;
  return {
    test: {
      projects: [
        {
          test: {
            name: 'node',
            include: ['test/node/**/*.test.ts', 'src/**/*.test.ts'],
            environment: 'node',
            globalSetup: ['test/setup/backend.ts'],
            // Node 20 has WebSocket only behind this flag (it is on by default from Node 22).
            execArgv: ['--experimental-websocket'],
            testTimeout: 30_000,
            hookTimeout: 60_000,
          },
        },
        {
          optimizeDeps: {
            include: ['@tanstack/query-core', 'openapi-fetch', 'idb', 'eventsource-parser'],
          },
          test: {
            name: 'browser',
            include: ['test/browser/**/*.test.ts'],
            globalSetup: ['test/setup/browser-backend.ts'],
            testTimeout: 60_000,
            hookTimeout: 60_000,
            browser: {
              enabled: true,
              headless: true,
              api: { port: pagePort, strictPort: true },
              // Debian's Chromium; nothing is downloaded.
              provider: playwright({ launchOptions: { executablePath: '/usr/bin/chromium' } }),
              instances: [{ browser: 'chromium' as const }],
              commands: { openTab, inTab, reloadTab, closeTab },
            },
          },
        },
      ],
    },
  };
});
