// Vitest global setup of the browser project: the real backend, allowing the test page's origin
// (CORS) and holding each user to ONE realtime connection, so the tab-sharing tests count
// connections on the server: a second socket or stream of the same user would be refused.
import type { TestProject } from 'vitest/node';
import { startBackend } from './backend.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const origin = process.env.PYAT_BROWSER_ORIGIN ?? '';
  const { url, stop } = await startBackend({
    PYAIRTABLE_CORS_ORIGINS: [origin, origin.replace('localhost', '127.0.0.1')].join(','),
    PYAIRTABLE_REALTIME_MAX_CONNECTIONS_PER_USER: '1',
  });
  project.provide('apiURL', url);
  return stop;
}
