'use client';
// `@pyairtable/frontend-integration/react`: the provider and hooks (client components only).
export type { CanResult } from './auth.js';
export { useCan, useSession } from './auth.js';
export type { ClientSession, PyAirtableContextValue } from './context.js';
export { usePyAirtable } from './context.js';
export type { DataHookOptions } from './data.js';
export {
  useBases,
  useInfiniteRecords,
  useRecord,
  useRecords,
  useTable,
  useTables,
  useWorkspaces,
} from './data.js';
export type { ErrorFallbackProps, PyAirtableErrorBoundaryProps } from './error-boundary.js';
export { DefaultErrorFallback, PyAirtableErrorBoundary } from './error-boundary.js';
export type {
  OptimisticUpdate,
  OptimisticUpdateOptions,
  OutboxState,
  UpdateStatus,
} from './mutation.js';
export { useOptimisticUpdate, useOutbox, usePendingUpdates } from './mutation.js';
export type { PyAirtableProviderProps } from './provider.js';
export { PyAirtableProvider } from './provider.js';
export type { RealtimeOptions, RealtimeStatus } from './realtime.js';
export { useConnectionState, useRealtime } from './realtime.js';
