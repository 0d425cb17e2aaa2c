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
        // What only a browser has (IndexedDB across a reload, Web Locks, BroadcastChannel, real
        // tabs) in Chromium against the real backend, one realtime connection per user.
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
            provider: chromium,
            instances: [{ browser: 'chromium' }],
            screenshotFailures: false,
            commands: { openTab, inTab, reloadTab, closeTab },
          },
        },
      },
    ],
  },
});
