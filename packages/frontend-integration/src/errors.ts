/**
 * Every error the integration throws, as one small tree (the Python SDK's `_errors.py`):
 *
 * ```
 * ServiceError                      .code .type .requestId .details .service
 * ├── APIConnectionError            no answer was obtained (code null)
 * │   ├── NetworkError              NETWORK_ERROR: refused, reset, DNS, a broken answer
 * │   ├── TimeoutError              TIMEOUT (also the total deadline)
 * │   ├── CircuitOpenError          CIRCUIT_OPEN: the service's breaker is open, nothing was sent
 * │   └── OfflineError              OFFLINE: queued for later by the offline outbox (.entryId)
 * ├── ResponseValidationError       RESPONSE_VALIDATION_ERROR: an answer of the wrong shape
 * ├── EventsResetError              EVENTS_RESET: missed events are past retention; refetch
 * └── APIStatusError                the backend answered with an error status (code = status)
 *     ├── InvalidRequestError       400/422 VALIDATION_ERROR (.fields)
 *     │   ├── InvalidOffsetError    INVALID_OFFSET
 *     │   └── IdempotencyKeyReusedError
 *     ├── AuthenticationError       401 AUTH_ERROR
 *     ├── PermissionDeniedError     403
 *     ├── NotFoundError             404
 *     ├── ConflictError             409 (.current: the resource as it is now)
 *     ├── PayloadTooLargeError      413
 *     ├── RateLimitedError          429 (.retryAfter, seconds)
 *     └── ServerError               5xx SERVER_ERROR
 *         └── ServiceUnavailableError   503 (.retryAfter)
 * ```
 *
 * `errorFromResponse` turns an error answer into the matching class; foreign errors (a `fetch`
 * TypeError, an abort) are translated where they happen and kept as `cause`.
 * `ErrorHandler.getErrorMessage` words an error for a person.
 */

export const NETWORK_ERROR = 'NETWORK_ERROR';
export const TIMEOUT = 'TIMEOUT';
export const CIRCUIT_OPEN = 'CIRCUIT_OPEN';
export const OFFLINE = 'OFFLINE';
export const RESPONSE_VALIDATION_ERROR = 'RESPONSE_VALIDATION_ERROR';

export type ErrorDetails = { [key: string]: unknown };

export interface ServiceErrorOptions {
  code?: number | null;
  type?: string;
  requestId?: string | null;
  details?: ErrorDetails;
  service?: string | null;
  cause?: unknown;
}

/** The root of every error the integration throws. */
export class ServiceError extends Error {
  static readonly defaultType: string = 'SERVER_ERROR';
  /** The HTTP status, or null when no answer was obtained. */
  readonly code: number | null;
  /** The contract's error type (`NOT_FOUND`...) or a client-side one (`TIMEOUT`...). */
  readonly type: string;
  /** The `X-Request-ID` of the request, when one was sent or answered. */
  readonly requestId: string | null;
  /** The error's `details` object (`{}` when there is none). */
  readonly details: ErrorDetails;
  /** The backend service the request was for (`record`, `auth`...), if known. */
  readonly service: string | null;

  constructor(message: string, options: ServiceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code ?? null;
    this.type = options.type ?? (new.target as unknown as typeof ServiceError).defaultType;
    this.requestId = options.requestId ?? null;
    this.details = options.details ?? {};
    this.service = options.service ?? null;
  }
}

/** No answer was obtained from the backend. */
export class APIConnectionError extends ServiceError {
  static override readonly defaultType: string = NETWORK_ERROR;
}

/** The connection failed: refused, reset, unreachable, or the answer was cut or garbled. */
export class NetworkError extends APIConnectionError {}

/** The backend did not answer within the timeout, or the call's total deadline passed. */
export class TimeoutError extends APIConnectionError {
  static override readonly defaultType: string = TIMEOUT;
}

/** The service's circuit breaker is open: the request was not sent. */
export class CircuitOpenError extends APIConnectionError {
  static override readonly defaultType: string = CIRCUIT_OPEN;
  /** Milliseconds until the breaker lets a probe request through. */
  readonly retryIn: number;

  constructor(message: string, options: ServiceErrorOptions & { retryIn: number }) {
    super(message, options);
    this.retryIn = options.retryIn;
  }
}

/** The backend is unreachable; the write was kept in the offline outbox to be sent later. */
export class OfflineError extends APIConnectionError {
  static override readonly defaultType: string = OFFLINE;
  /** The outbox entry that holds the write. */
  readonly entryId: string | null;

  constructor(message: string, options: ServiceErrorOptions & { entryId?: string | null } = {}) {
    super(message, options);
    this.entryId = options.entryId ?? null;
  }
}

/** The backend answered, but not in the documented shape. */
export class ResponseValidationError extends ServiceError {
  static override readonly defaultType: string = RESPONSE_VALIDATION_ERROR;
}

/** The events after the asked position are gone (retention): refetch, then read from `nextSince`. */
export class EventsResetError extends ServiceError {
  static override readonly defaultType: string = 'EVENTS_RESET';
  readonly nextSince: number;

  constructor(message: string, options: ServiceErrorOptions & { nextSince: number }) {
    super(message, options);
    this.nextSince = options.nextSince;
  }
}

/** The backend answered with an error status; `code` is that status. */
export class APIStatusError extends ServiceError {}

/** The request was refused as invalid; `fields` names the bad fields. */
export class InvalidRequestError extends APIStatusError {
  static override readonly defaultType: string = 'VALIDATION_ERROR';

  /** Field name to reason, as the backend gave them. */
  get fields(): { [name: string]: string } {
    const fields = this.details.fields;
    if (fields === null || typeof fields !== 'object' || Array.isArray(fields)) return {};
    return Object.fromEntries(Object.entries(fields).map(([key, value]) => [key, String(value)]));
  }
}

/** A pagination offset was malformed or expired: start the listing again. */
export class InvalidOffsetError extends InvalidRequestError {
  static override readonly defaultType: string = 'INVALID_OFFSET';
}

/** An `Idempotency-Key` was sent again with a different request. */
export class IdempotencyKeyReusedError extends InvalidRequestError {
  static override readonly defaultType: string = 'IDEMPOTENCY_KEY_REUSED';
}

/** The token is missing, invalid or expired, or the credentials are wrong (401). */
export class AuthenticationError extends APIStatusError {
  static override readonly defaultType: string = 'AUTH_ERROR';
}

/** The caller's role does not allow this (403). */
export class PermissionDeniedError extends APIStatusError {
  static override readonly defaultType: string = 'PERMISSION_DENIED';
}

/** The resource does not exist, or the caller may not see it (404). */
export class NotFoundError extends APIStatusError {
  static override readonly defaultType: string = 'NOT_FOUND';
}

/** The write conflicts with the current state (409); `current` is the resource as it is. */
export class ConflictError extends APIStatusError {
  static override readonly defaultType: string = 'CONFLICT';

  /** The resource as the backend holds it now, when the answer carried it. */
  get current(): { [key: string]: unknown } | null {
    const current = this.details.current;
    return current !== null && typeof current === 'object' && !Array.isArray(current)
      ? (current as { [key: string]: unknown })
      : null;
  }
}

/** The request body or upload is over the backend's limit (413). */
export class PayloadTooLargeError extends APIStatusError {
  static override readonly defaultType: string = 'PAYLOAD_TOO_LARGE';
}

/** Too many requests (429); `retryAfter` is the wait the backend asked for, in seconds. */
export class RateLimitedError extends APIStatusError {
  static override readonly defaultType: string = 'RATE_LIMITED';
  readonly retryAfter: number | null;

  constructor(message: string, options: ServiceErrorOptions & { retryAfter?: number | null } = {}) {
    super(message, options);
    this.retryAfter = options.retryAfter ?? null;
  }
}

/** The backend failed (5xx). */
export class ServerError extends APIStatusError {
  static override readonly defaultType: string = 'SERVER_ERROR';
}

/** The backend is temporarily unable to answer (503); `retryAfter` in seconds if given. */
export class ServiceUnavailableError extends ServerError {
  static override readonly defaultType: string = 'SERVICE_UNAVAILABLE';
  readonly retryAfter: number | null;

  constructor(message: string, options: ServiceErrorOptions & { retryAfter?: number | null } = {}) {
    super(message, options);
    this.retryAfter = options.retryAfter ?? null;
  }
}

type StatusErrorClass = new (
  message: string,
  options: ServiceErrorOptions & { retryAfter?: number | null },
) => APIStatusError;

const BY_TYPE: { [type: string]: StatusErrorClass } = {
  VALIDATION_ERROR: InvalidRequestError,
  INVALID_OFFSET: InvalidOffsetError,
  IDEMPOTENCY_KEY_REUSED: IdempotencyKeyReusedError,
  AUTH_ERROR: AuthenticationError,
  PERMISSION_DENIED: PermissionDeniedError,
  NOT_FOUND: NotFoundError,
  CONFLICT: ConflictError,
  PAYLOAD_TOO_LARGE: PayloadTooLargeError,
  RATE_LIMITED: RateLimitedError,
  SERVER_ERROR: ServerError,
  SERVICE_UNAVAILABLE: ServiceUnavailableError,
};
const BY_STATUS: { [status: number]: StatusErrorClass } = {
  400: InvalidRequestError,
  401: AuthenticationError,
  403: PermissionDeniedError,
  404: NotFoundError,
  409: ConflictError,
  413: PayloadTooLargeError,
  422: InvalidRequestError,
  429: RateLimitedError,
  503: ServiceUnavailableError,
};

export interface ErrorAnswer {
  status: number;
  body: string;
  requestId?: string | null;
  retryAfter?: number | null;
  service?: string | null;
}

/**
 * The error for an error answer: by the envelope's `type`, else by the status. An answer that is
 * not the contract's envelope (a proxy's HTML page) still gets the class its status implies.
 */
export function errorFromResponse(answer: ErrorAnswer): APIStatusError {
  const { message, type, details } = envelope(answer.status, answer.body);
  const cls =
    (type === null ? undefined : BY_TYPE[type]) ??
    BY_STATUS[answer.status] ??
    (answer.status >= 500 ? ServerError : APIStatusError);
  const options: ServiceErrorOptions & { retryAfter?: number | null } = {
    code: answer.status,
    details,
    requestId: answer.requestId ?? null,
    service: answer.service ?? null,
    retryAfter: answer.retryAfter ?? null,
  };
  if (type !== null) options.type = type;
  return new cls(message, options);
}

function envelope(
  status: number,
  body: string,
): { message: string; type: string | null; details: ErrorDetails } {
  let decoded: unknown = null;
  try {
    decoded = JSON.parse(body);
  } catch {
    // not JSON: described below
  }
  const error =
    decoded !== null && typeof decoded === 'object'
      ? (decoded as { error?: unknown }).error
      : undefined;
  if (error !== null && typeof error === 'object') {
    const { message, type, details } = error as {
      message?: unknown;
      type?: unknown;
      details?: unknown;
    };
    if (typeof message === 'string') {
      return {
        message,
        type: typeof type === 'string' ? type : null,
        details:
          details !== null && typeof details === 'object' && !Array.isArray(details)
            ? (details as ErrorDetails)
            : {},
      };
    }
  }
  return {
    message: `The backend answered ${status} without an error description.`,
    type: null,
    details: {},
  };
}

const MESSAGES: { [type: string]: string } = {
  [NETWORK_ERROR]: 'The server could not be reached. Check your connection and try again.',
  [TIMEOUT]: 'The server took too long to answer. Please try again.',
  [CIRCUIT_OPEN]: 'This service is failing right now; requests are paused for a moment.',
  [OFFLINE]: 'You are offline. The change is saved and will be sent when you are back online.',
  [RESPONSE_VALIDATION_ERROR]: 'The server sent an answer this app does not understand.',
  AUTH_ERROR: 'Your session has expired or is not valid. Please sign in again.',
  PERMISSION_DENIED: 'You do not have permission to do this.',
  NOT_FOUND: 'This item does not exist or is not shared with you.',
  CONFLICT: 'Someone else changed this item at the same time. Review it and try again.',
  PAYLOAD_TOO_LARGE: 'This is too large to upload.',
  RATE_LIMITED: 'Too many requests. Please wait a moment and try again.',
  INVALID_OFFSET: 'The list changed or expired while paging. Please reload it.',
  IDEMPOTENCY_KEY_REUSED: 'This request was already sent with different content.',
  SERVICE_UNAVAILABLE: 'The service is temporarily unavailable. Please try again shortly.',
  SERVER_ERROR: 'Something went wrong on the server. Please try again.',
};

/** Turns errors into what an app shows a person and decides about them. */
export const ErrorHandler = {
  /** A sentence fit to show a person; validation errors name the fields at fault. */
  getErrorMessage(error: unknown): string {
    if (error instanceof InvalidRequestError && error.constructor === InvalidRequestError) {
      const fields = Object.entries(error.fields);
      if (fields.length > 0) {
        const reasons = fields.map(([name, reason]) => `${name}: ${reason}`).join('; ');
        return `Please check the highlighted fields (${reasons}).`;
      }
      return error.message;
    }
    if (error instanceof RateLimitedError && error.retryAfter) {
      return `Too many requests. Please try again in ${Math.round(error.retryAfter)} seconds.`;
    }
    if (error instanceof ServiceError) return MESSAGES[error.type] ?? error.message;
    return 'Something unexpected went wrong. Please try again.';
  },

  /** Whether trying the same request again later may succeed. */
  isRetryable(error: unknown): boolean {
    if (error instanceof CircuitOpenError) return true;
    if (error instanceof APIConnectionError) return !(error instanceof OfflineError);
    if (error instanceof APIStatusError && error.code !== null) {
      return error.code === 408 || error.code === 429 || error.code >= 500;
    }
    return false;
  },
} as const;

/** An option of `createPyAirtableIntegration` is wrong; `problems` maps option to reason. */
export class ConfigurationError extends Error {
  readonly problems: { [option: string]: string };

  constructor(problems: { [option: string]: string }) {
    const lines = Object.entries(problems)
      .map(([name, reason]) => `${name}: ${reason}`)
      .join('; ');
    super(`Invalid PyAirtable integration configuration: ${lines}`);
    this.name = 'ConfigurationError';
    this.problems = problems;
  }
}
