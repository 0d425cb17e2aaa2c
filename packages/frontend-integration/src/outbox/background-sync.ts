/**
 * Asking the browser for a Background Sync, so the `/sw` entry drains the outbox once the
 * network is back even if every page is closed. Chromium only; elsewhere nothing happens and
 * the outbox drains at the next page or worker start.
 */
export const BACKGROUND_SYNC_TAG = 'pyat-outbox';

interface SyncRegistration {
  sync?: { register(tag: string): Promise<void> };
}

/** Registers a one-off Background Sync with `tag` when a Service Worker controls the page. */
export async function requestBackgroundSync(tag = BACKGROUND_SYNC_TAG): Promise<boolean> {
  const container = (
    globalThis as {
      navigator?: { serviceWorker?: { controller: unknown; ready: Promise<SyncRegistration> } };
    }
  ).navigator?.serviceWorker;
  if (!container?.controller) return false;
  const registration = await container.ready;
  if (registration.sync === undefined) return false;
  await registration.sync.register(tag);
  return true;
}
