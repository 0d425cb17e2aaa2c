'use client';
// The signed-in frame: the provider, who is signed in, the live badge, pending writes, sign-out.
import { PyAirtableNextProvider, useSignOut } from '@pyairtable/frontend-integration/next/client';
import {
  useConnectionState,
  useOutbox,
  usePendingUpdates,
  useSession,
} from '@pyairtable/frontend-integration/react';
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import type { ReactNode } from 'react';

type Session = Parameters<typeof PyAirtableNextProvider>[0]['session'];

export function AppShell({
  session,
  apiURL,
  since,
  children,
}: {
  session: Session;
  apiURL: string;
  since: number | null;
  children: ReactNode;
}) {
  return (
    <PyAirtableNextProvider
      session={session}
      since={since}
      config={{
        baseURL: apiURL,
        // Writes are shown at once, kept in IndexedDB until sent, and the cache survives reloads.
        features: { enableRealtime: true, enableOfflineSupport: true },
        cacheConfig: { enablePersistence: true },
      }}
    >
      <Header />
      <main>{children}</main>
    </PyAirtableNextProvider>
  );
}

function Header() {
  const session = useSession();
  const connection = useConnectionState();
  const signOut = useSignOut();
  const router = useRouter();
  const pending = usePendingUpdates();
  const outbox = useOutbox();
  return (
    <header>
      <Link href="/">PyAirtable</Link>
      <span className="grow" />
      <span className="badge" data-state={connection.state} data-testid="live-badge">
        {connection.state === 'live' ? 'Live' : connection.state}
        {connection.transport && connection.state !== 'live' ? ` (${connection.transport})` : ''}
      </span>
      <span data-testid="pending-writes">
        {pending.length} pending{outbox.pendingCount > 0 ? `, ${outbox.pendingCount} offline` : ''}
      </span>
      <span>{session?.user.email}</span>
      <button
        type="button"
        onClick={async () => {
          if (
            outbox.pendingCount > 0 &&
            !window.confirm(`${outbox.pendingCount} writes were not sent yet. Sign out anyway?`)
          )
            return;
          await signOut();
          router.replace('/signin');
          router.refresh();
        }}
      >
        Sign out
      </button>
    </header>
  );
}
