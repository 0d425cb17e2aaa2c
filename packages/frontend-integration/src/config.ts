/**
 * The integration's options: the original design's, in camelCase, durations in milliseconds.
 * Validated when the integration is created, so a typo or a wrong type fails at once with a
 * `ConfigurationError` naming the option (`timout: unknown option (did you mean "timeout"?)`).
 */
import { ConfigurationError } from './errors.js';

export const DEFAULT_BASE_URL = 'http://localhost:8080/api/v1';
export const DEFAULT_TIMEOUT = 30_000;
export const DEFAULT_DEADLINE = 120_000;
export const DEFAULT_RETRY_ATTEMPTS = 3;
export const DEFAULT_RETRY_DELAY = 1000;
export const DEFAULT_RETRY_MAX_DELAY = 30_000;
export const DEFAULT_RETRY_AFTER_CAP = 60_000;
export const DEFAULT_CACHE_TIMEOUT = 300_000;
export const DEFAULT_BREAKER_FAILURE_THRESHOLD = 5;
export const DEFAULT_BREAKER_RESET_TIMEOUT = 30_000;
export const DEFAULT_REFRESH_MARGIN = 60_000;
export const DEFAULT_PERMISSIONS_TTL = 60_000;

export interface RealtimeConfig {
  websocketURL: string;
  sseURL: string;
  enableSSEFallback: boolean;
  /** Ping the socket this often; a pong missing for `heartbeatTimeout` ends it. */
  heartbeatInterval: number;
  heartbeatTimeout: number;
  /** An SSE stream silent this long (no event, no comment) is dead. */
  sseHeartbeatTimeout: number;
  reconnectDelay: number;
  reconnectMaxDelay: number;
  /** After stepping down, try the better transport again after this long. */
  probeDelay: number;
  pollInterval: number;
  /** Failures in a row on one transport before stepping down to the next. */
  failuresToFall: number;
  /** Share one connection between the tabs of an origin (Web Locks + BroadcastChannel). */
  shareAcrossTabs: boolean;
}

export interface Features {
  enableRealtime: boolean;
  enableOptimisticUpdates: boolean;
  enableOfflineSupport: boolean;
}

export interface OfflineConfig {
  /** Queued writes older than this are not replayed blindly (the backend keeps keys 24 h). */
  reviewAfter: number;
  /** The IndexedDB database holding the outbox, cursors and persisted caches. */
  databaseName: string;
}

export interface CacheConfig {
  /** Keep the query cache in IndexedDB across reloads, per signed-in user. */
  enablePersistence: boolean;
  /** Garbage-collect unused queries after this long. */
  gcTime: number;
}

export interface IntegrationConfig {
  baseURL: string;
  timeout: number;
  /** The most one logical call may take, retries and waits included. */
  deadline: number;
  retryAttempts: number;
  retryDelay: number;
  retryMaxDelay: number;
  retryAfterCap: number;
  enableCaching: boolean;
  cacheTimeout: number;
  cacheConfig: CacheConfig;
  realtimeConfig: RealtimeConfig;
  offlineConfig: OfflineConfig;
  features: Features;
  debug: boolean;
  breakerFailureThreshold: number;
  breakerResetTimeout: number;
  deduplicateRequests: boolean;
  refreshMargin: number;
  permissionsTTL: number;
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? Partial<T[K]> : T[K] };
export type IntegrationOptions = DeepPartial<IntegrationConfig>;

function defaults(baseURL: string): IntegrationConfig {
  const api = new URL(baseURL);
  const wsScheme = api.protocol === 'https:' ? 'wss:' : 'ws:';
  return {
    baseURL,
    timeout: DEFAULT_TIMEOUT,
    deadline: DEFAULT_DEADLINE,
    retryAttempts: DEFAULT_RETRY_ATTEMPTS,
    retryDelay: DEFAULT_RETRY_DELAY,
    retryMaxDelay: DEFAULT_RETRY_MAX_DELAY,
    retryAfterCap: DEFAULT_RETRY_AFTER_CAP,
    enableCaching: true,
    cacheTimeout: DEFAULT_CACHE_TIMEOUT,
    cacheConfig: { enablePersistence: false, gcTime: DEFAULT_CACHE_TIMEOUT },
    realtimeConfig: {
      websocketURL: `${wsScheme}//${api.host}/ws`,
      sseURL: `${api.protocol}//${api.host}/events`,
      enableSSEFallback: true,
      heartbeatInterval: 15_000,
      heartbeatTimeout: 10_000,
      sseHeartbeatTimeout: 45_000,
      reconnectDelay: 500,
      reconnectMaxDelay: 30_000,
      probeDelay: 5000,
      pollInterval: 2000,
      failuresToFall: 2,
      shareAcrossTabs: true,
    },
    offlineConfig: { reviewAfter: 24 * 60 * 60_000, databaseName: 'pyairtable-integration' },
    features: { enableRealtime: true, enableOptimisticUpdates: true, enableOfflineSupport: false },
    debug: false,
    breakerFailureThreshold: DEFAULT_BREAKER_FAILURE_THRESHOLD,
    breakerResetTimeout: DEFAULT_BREAKER_RESET_TIMEOUT,
    deduplicateRequests: true,
    refreshMargin: DEFAULT_REFRESH_MARGIN,
    permissionsTTL: DEFAULT_PERMISSIONS_TTL,
  };
}

const SECTIONS = new Set(['cacheConfig', 'realtimeConfig', 'offlineConfig', 'features']);
const URL_OPTIONS: { [name: string]: string[] } = {
  baseURL: ['http:', 'https:'],
  'realtimeConfig.websocketURL': ['ws:', 'wss:'],
  'realtimeConfig.sseURL': ['http:', 'https:'],
};
const POSITIVE = new Set([
  'timeout',
  'deadline',
  'cacheTimeout',
  'breakerFailureThreshold',
  'breakerResetTimeout',
  'realtimeConfig.heartbeatInterval',
  'realtimeConfig.heartbeatTimeout',
  'realtimeConfig.pollInterval',
  'realtimeConfig.failuresToFall',
]);

/**
 * Validates `options` over the defaults into a frozen config.
 *
 * @throws ConfigurationError an option is unknown (with the closest known name suggested), of
 *   the wrong type or out of range.
 */
export function buildConfig(options: IntegrationOptions = {}): IntegrationConfig {
  const problems: { [name: string]: string } = {};
  const baseURL = (options.baseURL ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
  let base: IntegrationConfig;
  try {
    base = defaults(baseURL);
  } catch {
    throw new ConfigurationError({ baseURL: 'must be an absolute http:// or https:// URL' });
  }
  const merged = { ...base } as unknown as { [key: string]: unknown };
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (!(key in base)) {
      problems[key] = `unknown option${suggest(key, Object.keys(base))}`;
      continue;
    }
    if (SECTIONS.has(key)) {
      const section = { ...(base[key as keyof IntegrationConfig] as object) } as {
        [k: string]: unknown;
      };
      if (value === null || typeof value !== 'object') {
        problems[key] = 'must be an object';
        continue;
      }
      for (const [inner, innerValue] of Object.entries(value)) {
        if (innerValue === undefined) continue;
        if (!(inner in section)) {
          problems[`${key}.${inner}`] = `unknown option${suggest(inner, Object.keys(section))}`;
          continue;
        }
        checkValue(`${key}.${inner}`, section[inner], innerValue, problems);
        section[inner] = innerValue;
      }
      merged[key] = Object.freeze(section);
      continue;
    }
    checkValue(key, merged[key], value, problems);
    merged[key] = key === 'baseURL' ? baseURL : value;
  }
  if (Object.keys(problems).length > 0) throw new ConfigurationError(problems);
  return Object.freeze(merged) as unknown as IntegrationConfig;
}

function checkValue(
  name: string,
  fallback: unknown,
  value: unknown,
  problems: { [name: string]: string },
): void {
  if (typeof value !== typeof fallback) {
    problems[name] = `expected a ${typeof fallback}, got ${JSON.stringify(value)}`;
    return;
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) problems[name] = 'must be a number ≥ 0';
    else if (POSITIVE.has(name) && value === 0) problems[name] = 'must be greater than 0';
  }
  const schemes = URL_OPTIONS[name];
  if (schemes !== undefined && typeof value === 'string') {
    let protocol = '';
    try {
      protocol = new URL(value).protocol;
    } catch {
      // reported below
    }
    if (!schemes.includes(protocol)) {
      problems[name] = `must be an absolute ${schemes.map((s) => `${s}//`).join(' or ')} URL`;
    }
  }
}

function suggest(name: string, known: string[]): string {
  let best: string | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best !== null && bestDistance <= Math.max(2, Math.floor(name.length / 3))
    ? ` (did you mean "${best}"?)`
    : '';
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i += 1) {
    const row = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(
        Math.min((previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost),
      );
    }
    previous = row;
  }
  return previous[b.length] ?? 0;
}
