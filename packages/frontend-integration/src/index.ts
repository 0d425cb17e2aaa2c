// The public API: a curated re-export (implementation lives in the modules).

export { AuthManager } from './auth/manager.js';
export type { AuthRoutes, TokenProvider } from './auth/provider.js';
export { DirectTokenProvider } from './auth/provider.js';
export type { Session, SessionEvent, SessionEventKind, SessionListener } from './auth/session.js';
export type { RecordListQuery } from './cache/keys.js';
export { keys } from './cache/keys.js';
export { comparator, matches, Undecidable } from './cache/matcher.js';
export type { PendingUpdate, UpdateKind } from './cache/overlay.js';
export { isTemporaryId, Overlay, TEMPORARY_ID_PREFIX, temporaryIdOf } from './cache/overlay.js';
export {
  CursorStore,
  DEFAULT_PERSIST_MAX_AGE,
  DEFAULT_PERSIST_THROTTLE,
  QueryPersister,
} from './cache/persist.js';
export type { CacheStats } from './cache/sync.js';
export { CacheSync, LIFETIMES } from './cache/sync.js';
export type { Clock } from './clock.js';
export { systemClock } from './clock.js';
export type {
  CacheConfig,
  Features,
  IntegrationConfig,
  IntegrationOptions,
  OfflineConfig,
  RealtimeConfig,
} from './config.js';
export { buildConfig } from './config.js';
export {
  APIConnectionError,
  APIStatusError,
  AuthenticationError,
  CircuitOpenError,
  ConfigurationError,
  ConflictError,
  ErrorHandler,
  EventsResetError,
  errorFromResponse,
  IdempotencyKeyReusedError,
  InvalidOffsetError,
  InvalidRequestError,
  NetworkError,
  NotFoundError,
  OfflineError,
  PayloadTooLargeError,
  PermissionDeniedError,
  RateLimitedError,
  ResponseValidationError,
  ServerError,
  ServiceError,
  ServiceUnavailableError,
  TimeoutError,
} from './errors.js';
export type {
  ConnectionStatus,
  IntegrationDependencies,
  ServiceHealthReport,
} from './integration.js';
export { createPyAirtableIntegration, PyAirtableIntegration } from './integration.js';
export type { MetricsSnapshot, ServiceMetrics } from './metrics.js';
export type {
  ConflictStrategy,
  Resolution,
  Resolver,
  StrategyName,
} from './mutation/conflict.js';
export {
  conflictingFields,
  resolveConflict,
  resolveDeleteConflict,
  serverChanges,
} from './mutation/conflict.js';
export type {
  DurableSink,
  MutationOptions,
  MutationResult,
  QueuedEntry,
  QueuedEvent,
  RecordWrite,
  UpdateEvent,
  UpdateOutcome,
} from './mutation/mutations.js';
export { RecordMutations } from './mutation/mutations.js';
export type { SendOutcome, WriteOp } from './mutation/send.js';
export { MAX_CONFLICT_ROUNDS, sendWrite } from './mutation/send.js';
export { OnlineStatus } from './online.js';
export { BACKGROUND_SYNC_TAG, requestBackgroundSync } from './outbox/background-sync.js';
export type { EntryError, OutboxEvent, OutboxOptions } from './outbox/outbox.js';
export { DEFAULT_REVIEW_AFTER, Outbox } from './outbox/outbox.js';
export { RealtimeClient } from './realtime/client.js';
export type {
  ConnectionSnapshot,
  ConnectionState,
  EventFilter,
  SubscribeOptions,
  Subscription,
  SubscriptionState,
} from './realtime/connection.js';
export { RealtimeConnection } from './realtime/connection.js';
export type { Frame, FrameSource, TransportName, WebSocketFactory } from './realtime/frames.js';
export { SharedConnection } from './realtime/shared.js';
export type { CallOptions, RecordWriteOp, WriteOptions } from './services/base.js';
export type { Services } from './services/index.js';
export type { Fields, RecordQuery, RecordWriteOptions, SortKey } from './services/records.js';
export type { EntryState, OutboxEntry, PersistedQueries, Storage } from './storage.js';
export { DATABASE_NAME, hasIndexedDB, openStorage } from './storage.js';
export { Subscribable } from './subscribable.js';
export type { LockRequest } from './tabs.js';
export { Leadership, platformLocks, TabChannel } from './tabs.js';
export type { BreakerSnapshot, BreakerState } from './transport/breaker.js';
export type { Fetch, RequestSpec, TokenSource, UploadProgress } from './transport/client.js';
export type { RetryPolicy } from './transport/policy.js';
export type * from './types/index.js';
