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
            include: [
              'test/node/**/*.test.ts',
              'test/conformance/**/*.test.ts',
              'src/**/*.test.ts',
            ],
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
            include: [
              '@tanstack/query-core',
              '@tanstack/react-query',
              'openapi-fetch',
              'idb',
              'eventsource-parser',
              'react',
              'react-dom/client',
              'react/jsx-dev-runtime',
              'vitest-browser-react',
            ],
          },
          test: {
            // The core's browser behaviour and the React hooks (vitest-browser-react).
            name: 'browser',
            include: ['test/browser/**/*.test.ts', 'test/react/**/*.test.tsx'],
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
              screenshotFailures: false,
            },
          },
        },
        {
          // The Next.js demo in Chromium (playwright-core) against the real backend, and the
          // package as published; the setup builds both once.
          test: {
            name: 'e2e',
            include: ['test/e2e/**/*.test.ts'],
            environment: 'node',
            globalSetup: ['test/setup/next-app.ts'],
            execArgv: ['--experimental-websocket'],
            fileParallelism: false,
            testTimeout: 60_000,
            hookTimeout: 60_000,
          },
        },
      ],
    },
  };
});
