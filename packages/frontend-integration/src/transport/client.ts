/**
 * The HTTP transport: `fetch` with auth, retries, one breaker per service and single flight.
 *
 * One logical request (`Transport.send`) may make several attempts. Each attempt passes the
 * service's circuit breaker and carries the same `X-Request-ID` and, for a write, the same
 * `Idempotency-Key` (generated once per logical write), so a retried write is applied once. A
 * 401 asks the token source for a fresh token once and tries again; that is not a retry. Waits
 * follow the policy (`Retry-After` within its cap, else jittered backoff) and never run past the
 * call's total deadline. Identical concurrent GETs of one user share one request.
 */
import type { Clock } from '../clock.js';
import type { IntegrationConfig } from '../config.js';
import {
  APIStatusError,
  errorFromResponse,
  NetworkError,
  type ServiceError,
  TimeoutError,
} from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { OnlineStatus } from '../online.js';
import { type BreakerSnapshot, CircuitBreaker } from './breaker.js';
import { SingleFlight } from './dedup.js';
import { newId } from './ids.js';
import {
  mayRetryMethod,
  parseRetryAfter,
  type RetryPolicy,
  retryPolicy,
  retryWait,
  WRITE_METHODS,
} from './policy.js';
import { redactBody, redactURL } from './redact.js';

/** Where the transport gets the bearer token (the auth layer's token provider implements it). */
export interface TokenSource {
  /**
   * The access token to send now, or null when signed out. `forceRefresh` asks for a token other
   * than `rejected` (one the backend just refused with 401).
   */
  getToken(options?: { forceRefresh?: boolean; rejected?: string | null }): Promise<string | null>;
}

export type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
export type Logger = (line: string) => void;

export interface UploadProgress {
  loaded: number;
  total: number | null;
}

/** One logical request. */
export interface RequestSpec {
  /** The backend service it is for (`record`, `auth`...): picks the breaker and the metrics. */
  service: string;
  method: string;
  /** Absolute URL, or a path below the API's base URL (`/records`). */
  url: string;
  query?: URLSearchParams | null;
  headers?: HeadersInit;
  /** A JSON body (serialised here) or a ready body. */
  json?: unknown;
  body?: BodyInit | null;
  /** Send the bearer token (default true). */
  authenticated?: boolean;
  /** The write's idempotency key; generated once per call for authenticated writes when absent. */
  idempotencyKey?: string | null;
  /** Per-attempt timeout and total deadline, milliseconds (defaults from the config). */
  timeout?: number;
  deadline?: number;
  signal?: AbortSignal;
  /** Return the answer with its body unread (downloads, SSE); never shared. */
  stream?: boolean;
  /** Replaces `fetch` for this call (uploads with progress). */
  send?: Fetch;
}

const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNRESET_BEFORE_SEND',
]);
const NO_BODY_STATUSES = new Set([101, 204, 205, 304]);

interface SharedAnswer {
  status: number;
  statusText: string;
  headers: [string, string][];
  body: ArrayBuffer;
}

type Outcome =
  | { response: Response }
  | { error: ServiceError; sent: boolean; retryAfter: number | null };

export class Transport {
  readonly policy: RetryPolicy;
  tokens: TokenSource | null = null;
  lastSuccessAt: number | null = null;
  lastFailure: ServiceError | null = null;
  lastFailureAt: number | null = null;
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly flights = new SingleFlight<SharedAnswer>();

  constructor(
    readonly config: IntegrationConfig,
    private readonly deps: {
      fetch: Fetch;
      clock: Clock;
      metrics: Metrics;
      online: OnlineStatus;
      random?: () => number;
      logger?: Logger | null;
    },
  ) {
    this.policy = retryPolicy({
      attempts: config.retryAttempts,
      baseDelay: config.retryDelay,
      maxDelay: config.retryMaxDelay,
      retryAfterCap: config.retryAfterCap,
    });
  }

  /** The circuit breaker of `service`, created closed on first use. */
  breaker(service: string): CircuitBreaker {
    let breaker = this.breakers.get(service);
    if (breaker === undefined) {
      breaker = new CircuitBreaker(service, {
        failureThreshold: this.config.breakerFailureThreshold,
        resetTimeout: this.config.breakerResetTimeout,
        now: () => this.deps.clock.now(),
      });
      this.breakers.set(service, breaker);
    }
    return breaker;
  }

  breakerSnapshots(): { [service: string]: BreakerSnapshot } {
    return Object.fromEntries([...this.breakers].sort().map(([name, b]) => [name, b.snapshot()]));
  }

  /** The absolute URL of an API path with its query. */
  url(path: string, query?: URLSearchParams | null): string {
    const base = /^[a-z]+:\/\//i.test(path) ? path : `${this.config.baseURL}${path}`;
    const search = query?.toString();
    return search ? `${base}?${search}` : base;
  }

  /**
   * Sends one logical request and returns its successful answer (body read unless `stream`).
   *
   * @throws APIStatusError the backend answered with an error status (a subclass per kind).
   * @throws APIConnectionError no answer: `NetworkError`, `TimeoutError`, or `CircuitOpenError`.
   * @throws the signal's reason when the caller aborts.
   */
  async send(spec: RequestSpec): Promise<Response> {
    const method = spec.method.toUpperCase();
    const authenticated = spec.authenticated ?? true;
    const idempotencyKey =
      spec.idempotencyKey ?? (authenticated && WRITE_METHODS.has(method) ? newId() : null);
    const token = authenticated && this.tokens !== null ? await this.tokens.getToken() : null;
    const call = { ...spec, method, idempotencyKey, url: this.url(spec.url, spec.query) };
    const deadlineAt = this.deps.clock.now() + (spec.deadline ?? this.config.deadline);
    if (
      method === 'GET' &&
      this.config.deduplicateRequests &&
      !spec.stream &&
      spec.signal === undefined &&
      spec.send === undefined
    ) {
      const key = `${call.url}\n${token ?? ''}\n${JSON.stringify([...new Headers(spec.headers)])}`;
      if (this.flights.running(key)) this.deps.metrics.deduplicated(spec.service);
      const answer = await this.flights.run(key, async () => {
        const response = await this.loop(call, token, deadlineAt);
        return {
          status: response.status,
          statusText: response.statusText,
          headers: [...response.headers],
          body: await response.arrayBuffer(),
        };
      });
      return new Response(NO_BODY_STATUSES.has(answer.status) ? null : answer.body, {
        status: answer.status,
        statusText: answer.statusText,
        headers: answer.headers,
      });
    }
    return this.loop(call, token, deadlineAt);
  }

  private async loop(
    call: RequestSpec & { method: string; idempotencyKey: string | null },
    firstToken: string | null,
    deadlineAt: number,
  ): Promise<Response> {
    const requestId = newId();
    const breaker = this.breaker(call.service);
    const { clock, metrics } = this.deps;
    let token = firstToken;
    let retry = 0;
    let recovered = false;
    for (;;) {
      breaker.beforeRequest();
      const started = performance.now();
      let outcome: Outcome;
      try {
        outcome = await this.attempt(call, requestId, token, deadlineAt);
      } catch (abort) {
        breaker.releaseProbe();
        throw abort;
      }
      if ('response' in outcome) {
        breaker.recordSuccess();
        metrics.request(call.service, performance.now() - started, null);
        this.lastSuccessAt = clock.now();
        this.deps.online.reportReachable();
        return outcome.response;
      }
      const { error, sent, retryAfter } = outcome;
      metrics.request(call.service, performance.now() - started, error.type);
      if (error instanceof APIStatusError) {
        this.lastSuccessAt = clock.now();
        this.deps.online.reportReachable();
        if ((error.code ?? 0) >= 500) breaker.recordFailure();
        else breaker.recordSuccess();
        if (error.code === 401 && token !== null && this.tokens !== null && !recovered) {
          recovered = true;
          const fresh = await this.tokens.getToken({ forceRefresh: true, rejected: token });
          if (fresh !== null && fresh !== token) {
            token = fresh;
            continue;
          }
          throw error;
        }
      } else {
        breaker.recordFailure();
        this.deps.online.reportUnreachable();
      }
      if (!(error instanceof APIStatusError) || (error.code ?? 0) >= 500) {
        this.lastFailure = error;
        this.lastFailureAt = clock.now();
      }
      const wait = this.retryWait(call, error, retry + 1, retryAfter, sent);
      if (wait === null || clock.now() + wait >= deadlineAt) throw error;
      retry += 1;
      metrics.retry(call.service);
      this.log(
        () =>
          `retry ${retry} of ${call.method} ${redactURL(call.url)} in ${Math.round(wait)} ms after ${error.type}`,
      );
      await clock.sleep(wait, call.signal);
    }
  }

  private retryWait(
    call: { method: string; idempotencyKey: string | null },
    error: ServiceError,
    retry: number,
    retryAfter: number | null,
    sent: boolean,
  ): number | null {
    if (error instanceof APIStatusError) {
      if (!this.policy.statuses.has(error.code ?? 0)) return null;
      if (!mayRetryMethod(call.method, call.idempotencyKey)) return null;
    } else if (sent && !mayRetryMethod(call.method, call.idempotencyKey)) {
      return null;
    }
    return retryWait(this.policy, retry, retryAfter, this.deps.random);
  }

  private async attempt(
    call: RequestSpec & { method: string; idempotencyKey: string | null },
    requestId: string,
    token: string | null,
    deadlineAt: number,
  ): Promise<Outcome> {
    const { clock } = this.deps;
    const remaining = deadlineAt - clock.now();
    if (remaining <= 0) {
      return {
        error: new TimeoutError(`The ${call.service} call ran out of its deadline.`, {
          service: call.service,
          requestId,
        }),
        sent: false,
        retryAfter: null,
      };
    }
    const headers = new Headers(call.headers);
    headers.set('X-Request-ID', requestId);
    if (token !== null) headers.set('Authorization', `Bearer ${token}`);
    if (call.idempotencyKey !== null) headers.set('Idempotency-Key', call.idempotencyKey);
    let body = call.body ?? null;
    if (call.json !== undefined) {
      body = JSON.stringify(call.json);
      headers.set('Content-Type', 'application/json');
    }
    // The timeout covers the attempt until its body is read (for a stream: its headers); the
    // caller's signal stays tied to the request, so aborting it also ends a streamed body.
    const controller = new AbortController();
    const timedOut = Symbol('timeout');
    const timer = setTimeout(
      () => controller.abort(timedOut),
      Math.min(call.timeout ?? this.config.timeout, remaining),
    );
    const signal =
      call.signal === undefined
        ? controller.signal
        : AbortSignal.any([controller.signal, call.signal]);
    this.log(() => `→ ${call.method} ${redactURL(call.url)} [${requestId}] ${redactBody(body)}`);
    const send = call.send ?? this.deps.fetch;
    try {
      const init: RequestInit & { duplex?: 'half' } = {
        method: call.method,
        headers,
        body,
        signal,
      };
      if (body instanceof ReadableStream) init.duplex = 'half';
      const response = await send(call.url, init);
      let answer: Response;
      if (call.stream && response.ok) {
        answer = response;
      } else {
        const buffer = await response.arrayBuffer();
        answer = new Response(NO_BODY_STATUSES.has(response.status) ? null : buffer, {
          status: response.status,
          statusText: response.statusText,
          headers: response.headers,
        });
      }
      this.log(() => `← ${answer.status} ${call.method} ${redactURL(call.url)} [${requestId}]`);
      if (answer.ok) return { response: answer };
      const text = await answer.text();
      const retryAfter = parseRetryAfter(answer.headers.get('Retry-After'), clock.now());
      return {
        error: errorFromResponse({
          status: answer.status,
          body: text,
          requestId: answer.headers.get('X-Request-ID') ?? requestId,
          retryAfter: retryAfter === null ? null : retryAfter / 1000,
          service: call.service,
        }),
        sent: true,
        retryAfter,
      };
    } catch (failure) {
      if (call.signal?.aborted) throw call.signal.reason;
      if (controller.signal.reason === timedOut) {
        return {
          error: new TimeoutError(`The ${call.service} service did not answer in time.`, {
            service: call.service,
            requestId,
            cause: failure,
          }),
          sent: true,
          retryAfter: null,
        };
      }
      const code = errorCode(failure);
      return {
        error: new NetworkError(
          `The ${call.service} service could not be reached${code ? ` (${code})` : ''}.`,
          { service: call.service, requestId, cause: failure },
        ),
        sent: code === null || !NOT_SENT_CODES.has(code),
        retryAfter: null,
      };
    } finally {
      clearTimeout(timer);
    }
  }

  private log(line: () => string): void {
    if (this.config.debug && this.deps.logger) this.deps.logger(line());
  }
}

function errorCode(failure: unknown): string | null {
  let current: unknown = failure;
  for (let depth = 0; depth < 4 && current !== null && typeof current === 'object'; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return null;
}
