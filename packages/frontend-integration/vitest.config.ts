import { defineConfig } from 'vitest/config';

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
    ],
  },
});
