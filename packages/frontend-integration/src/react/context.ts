'use client';
/** The integration a `PyAirtableProvider` hands down, and the session it was given. */
import { createContext, useContext } from 'react';
import type { PyAirtableIntegration } from '../integration.js';
import type { User } from '../types/index.js';

/** What the browser may know of a session: the user, never a token. */
export interface ClientSession {
  user: User;
  /** When the server-side session's access token expires (ms epoch), if known. */
  expiresAt?: number;
}

export interface PyAirtableContextValue {
  integration: PyAirtableIntegration;
  /** The session the provider was given (`undefined`: none given; `null`: signed out). */
  session: ClientSession | null | undefined;
}

export const PyAirtableContext = createContext<PyAirtableContextValue | null>(null);

/**
 * The context of the nearest `PyAirtableProvider`.
 *
 * @throws Error outside a `PyAirtableProvider`.
 */
export function usePyAirtableContext(): PyAirtableContextValue {
  const value = useContext(PyAirtableContext);
  if (value === null) {
    throw new Error('PyAirtable hooks must be used inside a <PyAirtableProvider>.');
  }
  return value;
}

/** The integration of the nearest `PyAirtableProvider`. @throws Error outside one. */
export function usePyAirtable(): PyAirtableIntegration {
  return usePyAirtableContext().integration;
}
