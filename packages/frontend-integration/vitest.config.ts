import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vitest/config';
import { closeTab, inTab, openTab, reloadTab } from './test/setup/tabs.js';

/** Debian's Chromium: the browser projects download nothing. */
const chromium = playwright({ launchOptions: { executablePath: '/usr/bin/chromium' } });

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'node',
          include: ['test/node/**/*.test.ts', 'test/conformance/**/*.test.ts', 'src/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/setup/backend.ts'],
          // Node 20 has WebSocket only behind this flag (it is on by default from Node 22).
          execArgv: ['--experimental-websocket'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        // What only a browser has (IndexedDB across a reload, Web Locks, BroadcastChannel, real
        // tabs) and the React hooks (vitest-browser-react), in Chromium against the real
        // backend, one realtime connection per user.
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
          name: 'browser',
          include: ['test/browser/**/*.test.ts', 'test/react/**/*.test.tsx'],
          globalSetup: ['test/setup/browser-backend.ts'],
          // A hang guard, never a measure (expect.element and expect.poll wait up to this).
          expect: { poll: { timeout: 20_000 } },
          testTimeout: 60_000,
          hookTimeout: 60_000,
          browser: {
            enabled: true,
            headless: true,
            provider: chromium,
            instances: [{ browser: 'chromium' }],
            screenshotFailures: false,
            commands: { openTab, inTab, reloadTab, closeTab },
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
          // A hang guard, never a measure: a busy machine renders and reconnects slowly.
          expect: { poll: { timeout: 20_000 } },
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
