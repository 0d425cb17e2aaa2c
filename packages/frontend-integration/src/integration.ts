/**
 * `createPyAirtableIntegration`: the composition root. It builds each collaborator and hands it
 * the narrow dependencies it needs (no subsystem receives the integration itself).
 */
import { QueryClient } from '@tanstack/query-core';
import createClient from 'openapi-fetch';
import { AuthManager } from './auth/manager.js';
import { DirectTokenProvider, type TokenProvider } from './auth/provider.js';
import { CursorStore, QueryPersister } from './cache/persist.js';
import { CacheSync } from './cache/sync.js';
import { type Clock, systemClock } from './clock.js';
import { buildConfig, type IntegrationConfig, type IntegrationOptions } from './config.js';
import { Metrics, type MetricsSnapshot } from './metrics.js';
import {
  type MutationOptions,
  type MutationResult,
  RecordMutations,
  type RecordWrite,
} from './mutation/mutations.js';
import { OnlineStatus } from './online.js';
import { requestBackgroundSync } from './outbox/background-sync.js';
import { Outbox, offline } from './outbox/outbox.js';
import { RealtimeClient } from './realtime/client.js';
import { RealtimeConnection } from './realtime/connection.js';
import {
  type FrameSource,
  pollingFrames,
  sseFrames,
  type WebSocketFactory,
  webSocketFrames,
} from './realtime/frames.js';
import { SharedConnection } from './realtime/shared.js';
import { directReads, type LocalChange } from './services/base.js';
import { createServices, type Services } from './services/index.js';
import { RecordService } from './services/records.js';
import { hasIndexedDB, openStorage, type Storage } from './storage.js';
import { type LockRequest, platformLocks } from './tabs.js';
import type { BreakerSnapshot } from './transport/breaker.js';
import { type Fetch, type Logger, Transport } from './transport/client.js';
import type { Health, paths } from './types/index.js';

/** What may be injected besides the options: the environment's seams. */
export interface IntegrationDependencies {
  fetch?: Fetch;
  clock?: Clock;
  /** A token provider other than the built-in email/password one. */
  tokenProvider?: TokenProvider;
  logger?: Logger;
  random?: () => number;
  online?: OnlineStatus;
  /** The TanStack `QueryClient` to keep the cache in (default: one of its own). */
  queryClient?: QueryClient;
  /** The WebSocket constructor (default: the global one; none means SSE and polling only). */
  WebSocket?: WebSocketFactory | null;
  /** The IndexedDB database (default: `offlineConfig.databaseName`, opened on first use). */
  storage?: Promise<Storage>;
  /** Web Locks for choosing the leading tab (default the platform's; null: no sharing). */
  locks?: LockRequest | null;
}

export interface ServiceHealthReport {
  backend: Health | null;
  error: string | null;
  breakers: { [service: string]: BreakerSnapshot };
}

export interface ConnectionStatus {
  realtime: import('./realtime/connection.js').ConnectionSnapshot | null;
  /** Whether this tab holds the shared realtime connection (null: not shared across tabs). */
  leadsTabs: boolean | null;
  /** Writes waiting in the offline outbox (null: no outbox). */
  pendingWrites: number | null;
  online: boolean;
  lastSuccessAt: number | null;
  lastFailureAt: number | null;
  lastFailure: string | null;
}

export class PyAirtableIntegration {
  readonly config: IntegrationConfig;
  readonly services: Services;
  readonly auth: AuthManager;
  readonly online: OnlineStatus;
  readonly metrics = new Metrics();
  readonly transport: Transport;
  protected readonly clock: Clock;
  private readonly ownsOnline: boolean;
  private readonly deps: IntegrationDependencies;
  private realtimeClient: RealtimeClient | null = null;
  private shared: SharedConnection | null = null;
  /** The query cache and its sync layer; null when `enableCaching` is off. */
  readonly cache: CacheSync | null;
  private feed: { unsubscribe(): void } | null = null;
  /** Record writes: optimistic, ordered per record, conflict-resolving (and durable, offline). */
  readonly mutations: RecordMutations;
  private outbox: Outbox | null = null;
  /** The record service without queueing (what mutations and the outbox send with). */
  private readonly records: RecordService;
  private storage: Promise<Storage> | null = null;
  private cursors: CursorStore | null = null;
  private persister: QueryPersister | null = null;
  /** Settles when the signed-in user's saved cache and cursor are back (`ready()`). */
  private resuming: Promise<void> = Promise.resolve();

  constructor(options: IntegrationOptions = {}, deps: IntegrationDependencies = {}) {
    this.config = buildConfig(options);
    this.deps = deps;
    this.clock = deps.clock ?? systemClock;
    this.ownsOnline = deps.online === undefined;
    this.online = deps.online ?? new OnlineStatus();
    const logger =
      deps.logger ??
      (this.config.debug ? (line: string) => console.debug(`[pyairtable] ${line}`) : null);
    this.transport = new Transport(this.config, {
      fetch: deps.fetch ?? ((input, init) => globalThis.fetch(input, init)),
      clock: this.clock,
      metrics: this.metrics,
      online: this.online,
      ...(deps.random ? { random: deps.random } : {}),
      logger,
    });
    const api = createClient<paths>({ baseUrl: this.config.baseURL });
    this.cache = this.config.enableCaching
      ? new CacheSync(
          deps.queryClient ??
            new QueryClient({
              defaultOptions: { queries: { gcTime: this.config.cacheConfig.gcTime, retry: false } },
            }),
          this.metrics,
          {
            defaultLifetime: this.config.cacheTimeout,
          },
        )
      : null;
    const cache = this.cache;
    const context = {
      transport: this.transport,
      api,
      reads: cache ?? directReads,
      changed: (change: LocalChange) => cache?.applyLocal(change),
    };
    this.services = createServices({
      ...context,
      // With offline support, a record write that finds no backend goes to the outbox.
      unreachable: async (op, cause) => {
        if (this.outbox === null) throw cause;
        throw offline((await this.outbox.enqueue(op)).id);
      },
    });
    // The mutation layer and the outbox send themselves; they never queue a write twice.
    this.records = new RecordService(context);
    this.mutations = new RecordMutations({
      records: this.records,
      cache,
      metrics: this.metrics,
      clock: this.clock,
      optimisticByDefault: this.config.features.enableOptimisticUpdates,
      durableByDefault: this.config.features.enableOfflineSupport,
    });
    const provider =
      deps.tokenProvider ??
      new DirectTokenProvider(
        {
          login: (email, password) => this.services.auth.login(email, password),
          refresh: (token) => this.services.auth.refresh(token),
          logout: (token) => this.services.auth.logout(token),
        },
        { clock: this.clock, refreshMargin: this.config.refreshMargin, autoRefresh: true },
      );
    this.transport.tokens = provider;
    this.auth = new AuthManager(provider, this.services.auth, {
      clock: this.clock,
      permissionsTTL: this.config.permissionsTTL,
    });
    let user = provider.userId();
    provider.subscribe((event) => {
      const next = event.session?.user.id ?? null;
      if (next !== user) {
        // The cache belongs to one user: another user, or none, starts from nothing.
        this.cache?.clear();
        this.feed?.unsubscribe();
        this.feed = null;
        void this.closeOutbox();
        this.closePersistence(event.kind === 'signedOut' || event.kind === 'ended');
      }
      user = next;
      if (next !== null) {
        this.openOutbox(next);
        this.resuming = this.resume(next);
      }
    });
  }

  /**
   * The offline outbox of the signed-in user (`pendingCount`, `sync()`, `needsReview()`,
   * `retry`, `discard`); null unless `features.enableOfflineSupport` and IndexedDB are there.
   */
  get offline(): Outbox | null {
    return this.outbox;
  }

  /** The IndexedDB database, opened on first use. */
  protected openDatabase(): Promise<Storage> {
    this.storage ??= this.deps.storage ?? openStorage(this.config.offlineConfig.databaseName);
    return this.storage;
  }

  private openOutbox(user: string): void {
    if (this.outbox !== null || !this.config.features.enableOfflineSupport) return;
    if (this.deps.storage === undefined && !hasIndexedDB()) return;
    const outbox = new Outbox({
      user,
      storage: this.openDatabase(),
      records: this.records,
      online: this.online,
      now: () => this.clock.now(),
      reviewAfter: this.config.offlineConfig.reviewAfter,
      locks: this.deps.locks === undefined ? platformLocks() : this.deps.locks,
    });
    outbox.subscribe((event) => {
      this.mutations.queued(event);
      // A write that has to wait: let the `/sw` worker send it when the network is back.
      if (event.kind === 'deferred') void requestBackgroundSync().catch(() => false);
    });
    this.mutations.attachOutbox(outbox);
    this.outbox = outbox;
    void outbox.open().catch((error: unknown) => this.deps.logger?.(`outbox: ${String(error)}`));
  }

  private usesStorage(): boolean {
    return this.deps.storage !== undefined || hasIndexedDB();
  }

  /**
   * Brings back the user's saved cache (with `cacheConfig.enablePersistence`) and realtime
   * cursor, then starts the cache's event feed from there: events since the save patch it.
   */
  private async resume(user: string): Promise<void> {
    if (this.cursors === null && this.usesStorage()) {
      const storage = this.openDatabase();
      this.cursors = new CursorStore(storage, user);
      if (this.cache !== null && this.config.cacheConfig.enablePersistence) {
        this.persister = new QueryPersister({
          storage,
          user,
          cache: this.cache,
          cursor: () => this.realtimeClient?.getState().cursor ?? null,
          now: () => this.clock.now(),
        });
      }
      try {
        const restored = (await this.persister?.restore()) ?? null;
        const since = restored ?? (await this.cursors.read());
        if (since !== null && this.config.features.enableRealtime)
          this.realtime.connection.resumeFrom(since);
      } catch (error) {
        this.deps.logger?.(`storage: ${String(error)}`);
      }
      this.persister?.start();
    }
    this.startFeed();
  }

  /** Resolves once the signed-in user's saved cache and cursor are restored. */
  ready(): Promise<void> {
    return this.resuming;
  }

  private closePersistence(purge: boolean): void {
    const persister = this.persister;
    const cursors = this.cursors;
    this.persister = null;
    this.cursors = null;
    if (persister === null && cursors === null) return;
    persister?.close();
    void (async () => {
      await cursors?.flush();
      if (purge) await (persister ?? cursors)?.purge();
    })().catch((error: unknown) => this.deps.logger?.(`storage: ${String(error)}`));
  }

  private closeOutbox(): Promise<void> {
    const outbox = this.outbox;
    this.outbox = null;
    this.mutations.attachOutbox(null);
    return outbox?.close() ?? Promise.resolve();
  }

  /** One record write; see `RecordMutations.mutate`. */
  mutate(write: RecordWrite, options: MutationOptions = {}): Promise<MutationResult> {
    return this.mutations.mutate(write, options);
  }

  /**
   * The original design's `pyairtable.optimistic`: `optimisticCreateRecord`,
   * `optimisticUpdateRecord`, `optimisticDeleteRecord`, `confirmUpdate`, `rollbackUpdate`,
   * `getPendingUpdates` (the same object as `mutations`).
   */
  get optimistic(): RecordMutations {
    return this.mutations;
  }

  /** Invalidates cached queries under `key` (every one of ours without a key). */
  invalidateCache(key?: readonly unknown[]): Promise<void> {
    return this.cache?.invalidate(key) ?? Promise.resolve();
  }

  /** Forgets every cached query. */
  clearCache(): void {
    this.cache?.clear();
  }

  /** While signed in with caching and realtime on, every event the user may see feeds the cache. */
  private startFeed(): void {
    const cache = this.cache;
    if (cache === null || this.feed !== null || !this.config.features.enableRealtime) return;
    this.feed = this.realtime.subscribe({ onReset: () => void cache.invalidate() }, (event) =>
      cache.applyEvent(event),
    );
  }

  /** Realtime subscriptions over one connection (created on first use). */
  get realtime(): RealtimeClient {
    if (this.realtimeClient === null) {
      this.realtimeClient = new RealtimeClient(this.createConnection());
    }
    return this.realtimeClient;
  }

  /** The realtime connection with its transport ladder (WebSocket, SSE, polling). */
  protected createConnection(since: number | null = null): RealtimeConnection {
    const realtime = this.config.realtimeConfig;
    const sources: FrameSource[] = [];
    const socket =
      this.deps.WebSocket === undefined
        ? (globalThis.WebSocket as WebSocketFactory | undefined)
        : this.deps.WebSocket;
    if (socket) {
      sources.push(
        webSocketFrames({
          url: realtime.websocketURL,
          WebSocket: socket,
          tokens: this.auth.provider,
          heartbeatInterval: realtime.heartbeatInterval,
          heartbeatTimeout: realtime.heartbeatTimeout,
          onTokenChange: (listener) =>
            this.auth.provider.subscribe((event) => {
              if (event.kind === 'refreshed') listener();
            }),
        }),
      );
    }
    if (realtime.enableSSEFallback) {
      sources.push(
        sseFrames({
          url: realtime.sseURL,
          transport: this.transport,
          idleTimeout: realtime.sseHeartbeatTimeout,
        }),
      );
    }
    sources.push(
      pollingFrames({
        events: this.services.event,
        interval: realtime.pollInterval,
        sleep: (ms, signal) => this.clock.sleep(ms, signal),
      }),
    );
    const connection = new RealtimeConnection(sources, {
      config: realtime,
      tokens: this.auth.provider,
      sleep: (ms, signal) => this.clock.sleep(ms, signal),
      ...(this.deps.random ? { random: this.deps.random } : {}),
      since,
      onCursor: (cursor) => this.cursors?.save(cursor),
      onLive: () => {
        this.online.reportReachable();
        void this.outbox?.sync().catch(() => undefined);
      },
    });
    const locks = this.deps.locks === undefined ? platformLocks() : this.deps.locks;
    const user = this.auth.provider.userId();
    const channels = typeof (globalThis as { BroadcastChannel?: unknown }).BroadcastChannel;
    if (realtime.shareAcrossTabs && locks !== null && channels === 'function' && user !== null) {
      this.shared = new SharedConnection(connection, sources, {
        name: `pyat-realtime:${this.config.baseURL}:${user}`,
        events: this.services.event,
        locks,
      });
    }
    return connection;
  }

  /** The backend's health report and the client's breakers. Never throws. */
  async getServiceHealth(): Promise<ServiceHealthReport> {
    try {
      const backend = await this.services.health.getHealth();
      return { backend, error: null, breakers: this.transport.breakerSnapshots() };
    } catch (error) {
      return { backend: null, error: String(error), breakers: this.transport.breakerSnapshots() };
    }
  }

  /** Reachability as the integration sees it from its own traffic. */
  getConnectionStatus(): ConnectionStatus {
    return {
      realtime: this.realtimeClient?.getState() ?? null,
      leadsTabs: this.shared?.isLeader ?? null,
      pendingWrites: this.outbox?.pendingCount ?? null,
      online: this.online.isOnline(),
      lastSuccessAt: this.transport.lastSuccessAt,
      lastFailureAt: this.transport.lastFailureAt,
      lastFailure: this.transport.lastFailure?.type ?? null,
    };
  }

  getMetrics(): MetricsSnapshot {
    return this.metrics.snapshot();
  }

  /** Stops timers and listeners; the integration is unusable afterwards. */
  async close(): Promise<void> {
    this.shared?.close();
    this.realtimeClient?.connection.close();
    await this.closeOutbox();
    await this.persister?.flush();
    await this.cursors?.flush();
    this.closePersistence(false);
    if (this.storage !== null && this.deps.storage === undefined)
      (await this.storage.catch(() => null))?.close();
    if (this.auth.provider instanceof DirectTokenProvider) this.auth.provider.dispose();
    if (this.ownsOnline) this.online.dispose();
  }
}

/** Creates an integration; see `IntegrationOptions` for the options and their defaults. */
export function createPyAirtableIntegration(
  options: IntegrationOptions = {},
  deps: IntegrationDependencies = {},
): PyAirtableIntegration {
  return new PyAirtableIntegration(options, deps);
}
