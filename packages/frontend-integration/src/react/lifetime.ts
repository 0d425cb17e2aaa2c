'use client';
/** The lifetime of an integration a component created: closed after its last unmount. */
import { useEffect } from 'react';
import type { PyAirtableIntegration } from '../integration.js';

const pendingClose = new WeakMap<PyAirtableIntegration, ReturnType<typeof setTimeout>>();

/**
 * Closes `owned` a task after the component unmounts, unless it mounts again meanwhile (React's
 * StrictMode unmounts and mounts again at once; that rehearsal must not close it).
 */
export function useOwnedIntegration(owned: PyAirtableIntegration | null): void {
  useEffect(() => {
    if (owned === null) return;
    const pending = pendingClose.get(owned);
    if (pending !== undefined) clearTimeout(pending);
    pendingClose.delete(owned);
    return () => {
      pendingClose.set(
        owned,
        setTimeout(() => {
          pendingClose.delete(owned);
          void owned.close();
        }, 0),
      );
    };
  }, [owned]);
}
