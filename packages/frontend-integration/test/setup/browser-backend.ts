// Vitest global setup of the browser project: the real backend, open to the test page (served
// from a port chosen at start, so any origin may call this loopback, throwaway backend), and
// holding each user to ONE realtime connection, so the tab-sharing test counts connections on
// the server: a second socket or stream of the same user would be refused.
import type { TestProject } from 'vitest/node';
import { startBackend } from './backend.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { url, stop } = await startBackend({
    PYAIRTABLE_CORS_ORIGINS: '*',
    PYAIRTABLE_REALTIME_MAX_CONNECTIONS_PER_USER: '1',
  });
  project.provide('apiURL', url);
  return stop;
}
