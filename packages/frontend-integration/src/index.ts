// The public API: a curated re-export (implementation lives in the modules).

export { AuthManager } from './auth/manager.js';
export type { AuthRoutes, TokenProvider } from './auth/provider.js';
export { DirectTokenProvider } from './auth/provider.js';
export type { Session, SessionEvent, SessionEventKind, SessionListener } from './auth/session.js';
export type { Clock } from './clock.js';
export { systemClock } from './clock.js';
export type {
  CacheConfig,
  Features,
  IntegrationConfig,
  IntegrationOptions,
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
export { OnlineStatus } from './online.js';
export type { CallOptions, WriteOptions } from './services/base.js';
export type { Services } from './services/index.js';
export type { Fields, RecordQuery, RecordWriteOptions, SortKey } from './services/records.js';
export { Subscribable } from './subscribable.js';
export type { BreakerSnapshot, BreakerState } from './transport/breaker.js';
export type { Fetch, RequestSpec, TokenSource, UploadProgress } from './transport/client.js';
export type { RetryPolicy } from './transport/policy.js';
export type * from './types/index.js';
