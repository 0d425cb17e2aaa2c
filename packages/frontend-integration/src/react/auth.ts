'use client';
/** Session and permission hooks. */
import { useQuery } from '@tanstack/react-query';
import { useCallback, useSyncExternalStore } from 'react';
import { NotFoundError } from '../errors.js';
import { permissionsQuery } from '../query/options.js';
import type { User } from '../types/index.js';
import { type ClientSession, usePyAirtableContext } from './context.js';

export interface CanResult {
  /** Whether the user holds the permission; undefined while it is being checked. */
  allowed: boolean | undefined;
  isLoading: boolean;
  error: Error | null;
}

/**
 * Whether the signed-in user holds `permission` (`"record:write"`) in a workspace: for showing
 * or hiding controls only (the server enforces it either way). Not a member is `false`. Kept
 * current by membership events (the cache sync invalidates the workspace's permissions).
 */
export function useCan(
  permission: string,
  { workspaceId }: { workspaceId: string | null | undefined },
): CanResult {
  const { integration } = usePyAirtableContext();
  const query = useQuery({
    ...permissionsQuery(integration, workspaceId ?? ''),
    enabled: Boolean(workspaceId),
    select: (granted) => (granted.permissions as readonly string[]).includes(permission),
    retry: false,
  });
  const denied = query.error instanceof NotFoundError;
  return {
    allowed: denied ? false : query.data,
    isLoading: query.isLoading,
    error: denied ? null : query.error,
  };
}

/**
 * The session: the one the provider was given (a server session, no tokens), else the
 * integration's own (a direct sign-in); null when signed out. Re-renders on sign-in, refresh
 * and sign-out.
 */
export function useSession(): ClientSession | null {
  const { integration, session } = usePyAirtableContext();
  const subscribe = useCallback(
    (listener: () => void) => integration.auth.onSessionChange(listener),
    [integration],
  );
  const user = useSyncExternalStore<User | null>(
    subscribe,
    () => integration.auth.user,
    () => null,
  );
  if (session !== undefined) return session;
  return user === null ? null : { user, expiresAt: integration.auth.session?.expiresAt ?? 0 };
}
