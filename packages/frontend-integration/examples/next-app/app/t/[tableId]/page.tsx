// One table's grid, its first page prefetched on the server; the browser's realtime connection
// resumes from that page's event_position, so no change between render and subscribe is lost.

import { dehydrateForClient } from '@pyairtable/frontend-integration/next';
import { recordsQuery, tableQuery } from '@pyairtable/frontend-integration/query';
import { HydrationBoundary } from '@tanstack/react-query';
import { redirect } from 'next/navigation';
import { AppShell } from '../../../components/AppShell';
import { Grid, INITIAL_QUERY } from '../../../components/Grid';
import { browserAPIURL, pyat } from '../../../lib/pyat';

export const dynamic = 'force-dynamic';

export default async function TablePage({ params }: { params: Promise<{ tableId: string }> }) {
  const { tableId } = await params;
  const session = await pyat.getServerSession();
  if (session === null) redirect('/signin');
  const pa = await pyat.getServerClient();
  const client = pa.cache?.queryClient;
  await Promise.all([
    client?.prefetchQuery(tableQuery(pa, tableId)),
    client?.prefetchQuery(recordsQuery(pa, tableId, INITIAL_QUERY)),
  ]);
  const { state, since } = dehydrateForClient(pa);
  return (
    <AppShell session={session} apiURL={browserAPIURL} since={since}>
      <HydrationBoundary state={state}>
        <Grid tableId={tableId} />
      </HydrationBoundary>
    </AppShell>
  );
}
