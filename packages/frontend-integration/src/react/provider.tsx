'use client';
/**
 * `PyAirtableProvider`: makes an integration (given, or built from a config) and its TanStack
 * `QueryClient` available to the hooks below it.
 *
 * An integration built here belongs to the provider: it is closed when the provider unmounts,
 * so no timer, socket or listener outlives it. React's StrictMode unmounts and mounts again at
 * once; the close is deferred by a task and cancelled by that re-mount, so the integration
 * survives the rehearsal. A given integration is never closed here (its creator owns it).
 */
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { type ReactNode, useEffect, useMemo, useRef, useState } from 'react';
import type { IntegrationOptions } from '../config.js';
import {
  createPyAirtableIntegration,
  type IntegrationDependencies,
  type PyAirtableIntegration,
} from '../integration.js';
import { type ClientSession, PyAirtableContext } from './context.js';
import { useOwnedIntegration } from './lifetime.js';

export type PyAirtableProviderProps = {
  children?: ReactNode;
  /**
   * The session from the server (`getServerSession()`), without tokens. When its user changes
   * (or it becomes null) the previous user's cached data is dropped.
   */
  session?: ClientSession | null;
} & (
  | { integration: PyAirtableIntegration; config?: never; dependencies?: never }
  | {
      config: IntegrationOptions;
      /** Seams for the integration built from `config` (a token provider, fetch...). */
      dependencies?: IntegrationDependencies;
      integration?: never;
    }
);

export function PyAirtableProvider(props: PyAirtableProviderProps): ReactNode {
  const { children, session } = props;
  const [owned] = useState(() =>
    props.integration === undefined
      ? createPyAirtableIntegration(props.config, props.dependencies ?? {})
      : null,
  );
  const integration = props.integration ?? owned;
  if (integration === null) throw new Error('PyAirtableProvider needs a config or an integration.');
  useOwnedIntegration(owned);

  // Without caching the integration has no QueryClient; the hooks still need one.
  const queryClient = useMemo(
    () => integration.cache?.queryClient ?? new QueryClient(),
    [integration],
  );

  const userId = session === undefined ? undefined : (session?.user.id ?? null);
  const previousUser = useRef(userId);
  useEffect(() => {
    if (previousUser.current !== undefined && previousUser.current !== userId) {
      // Another user, or none: nothing cached for the previous one may show.
      integration.clearCache();
    }
    previousUser.current = userId;
  }, [integration, userId]);

  const value = useMemo(() => ({ integration, session }), [integration, session]);
  return (
    <PyAirtableContext.Provider value={value}>
      <QueryClientProvider client={queryClient}>{children}</QueryClientProvider>
    </PyAirtableContext.Provider>
  );
}
