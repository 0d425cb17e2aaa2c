// The picker: workspace, base, table. Server-rendered with the user's workspaces prefetched.

import { dehydrateForClient } from '@pyairtable/frontend-integration/next';
import { workspacesQuery } from '@pyairtable/frontend-integration/query';
import { HydrationBoundary } from '@tanstack/react-query';
import { redirect } from 'next/navigation';
import { AppShell } from '../components/AppShell';
import { Picker } from '../components/Picker';
import { browserAPIURL, pyat } from '../lib/pyat';

export const dynamic = 'force-dynamic';

export default async function Home() {
  const session = await pyat.getServerSession();
  if (session === null) redirect('/signin');
  const pa = await pyat.getServerClient();
  await pa.cache?.queryClient.prefetchQuery(workspacesQuery(pa));
  const { state, since } = dehydrateForClient(pa);
  return (
    <AppShell session={session} apiURL={browserAPIURL} since={since}>
      <HydrationBoundary state={state}>
        <Picker />
      </HydrationBoundary>
    </AppShell>
  );
}
