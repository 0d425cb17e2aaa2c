import { playwright } from '@vitest/browser-playwright';
import { defineConfig } from 'vitest/config';
import { closeTab, openTab, reloadTab } from './test/browser/commands.js';
import { freePort } from './test/setup/backend.js';

// The browser tests' page is served from this port; the backend allows it as a CORS origin.
const browserPort = await freePort();
process.env.PYAT_TEST_CORS_ORIGINS = `http://127.0.0.1:${browserPort},http://localhost:${browserPort}`;

// Debian's Chromium: Playwright downloads no browser here.
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

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
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          globalSetup: ['test/setup/backend.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          browser: {
            enabled: true,
            headless: true,
            api: { host: '127.0.0.1', port: browserPort, strictPort: true },
            provider: playwright({
              launchOptions: {
                executablePath: process.env.PYAT_CHROMIUM ?? '/usr/bin/chromium',
                args: CHROMIUM_FLAGS,
              },
            }),
            instances: [{ browser: 'chromium' }],
            commands: { openTab, closeTab, reloadTab },
          },
        },
      },
    ],
  },
});
