/** What every service client shares: sending through the transport, checking answers, paging. */
import type { Client } from 'openapi-fetch';
import { ResponseValidationError } from '../errors.js';
import type { Transport } from '../transport/client.js';
import type { AirtableRecord, paths } from '../types/index.js';

/** Per-call options every method takes. */
export interface CallOptions {
  signal?: AbortSignal;
  /** Per-attempt timeout and total deadline, ms (override the integration's). */
  timeout?: number;
  deadline?: number;
}

/** Per-call options of a write: also the idempotency key to send (one is generated otherwise). */
export interface WriteOptions extends CallOptions {
  idempotencyKey?: string;
}

/** How long a cached answer stays fresh, by kind (the original design's lifetimes). */
export type Lifetime = 'profile' | 'workspaces' | 'records' | 'schema' | 'default';

/** The read-through seam: the cache layer when caching is on, a plain call otherwise. */
export interface ReadThrough {
  read<T>(key: readonly unknown[], fetch: () => Promise<T>, lifetime: Lifetime): Promise<T>;
}

/** What a write tells the cache layer, so cached views follow without waiting for realtime. */
export type LocalChange =
  | { kind: 'record'; record: AirtableRecord }
  | { kind: 'recordDeleted'; recordId: string; tableId: string | null }
  | { kind: 'invalidate'; keys: (readonly unknown[])[] };

/** A single-record write as the offline outbox stores it (also `mutation/send.ts`'s `WriteOp`). */
export interface RecordWriteOp {
  kind: 'create' | 'update' | 'replace' | 'delete';
  tableId: string;
  /** The real record id (a create has none yet). */
  recordId: string | null;
  fields: { [field: string]: unknown };
  /** `If-Match`; null sends none (the write always applies). */
  expectedVersion: number | null;
  /** The fields the user saw, for a field-level merge. */
  baseFields: { [field: string]: unknown } | null;
  idempotencyKey: string;
  typecast?: boolean;
}

export interface ServiceContext {
  transport: Transport;
  api: Client<paths>;
  reads: ReadThrough;
  changed(change: LocalChange): void;
  /**
   * With offline support: a single-record write that found no backend (`cause`) is handed here
   * to be stored in the outbox; it throws `OfflineError` with the entry's id.
   */
  unreachable?: (op: RecordWriteOp, cause: unknown) => Promise<never>;
}

export const directReads: ReadThrough = { read: (_key, fetch) => fetch() };

type Answer<T> = Promise<{ data?: T; error?: unknown; response: Response }>;

export abstract class Service {
  abstract readonly name: string;

  constructor(protected readonly ctx: ServiceContext) {}

  /** The `fetch` that openapi-fetch calls: the transport, with this call's options. */
  protected via(
    options: CallOptions & { idempotencyKey?: string; authenticated?: boolean; ifMatch?: number },
  ): { fetch: (request: Request) => Promise<Response> } {
    return {
      fetch: async (request) => {
        const body = request.body === null ? null : await request.arrayBuffer();
        const headers = new Headers(request.headers);
        if (options.ifMatch !== undefined) headers.set('If-Match', `"${options.ifMatch}"`);
        const spec: Parameters<Transport['send']>[0] = {
          service: this.name,
          method: request.method,
          url: request.url,
          headers,
          body,
        };
        if (options.signal !== undefined) spec.signal = options.signal;
        if (options.timeout !== undefined) spec.timeout = options.timeout;
        if (options.deadline !== undefined) spec.deadline = options.deadline;
        if (options.idempotencyKey !== undefined) spec.idempotencyKey = options.idempotencyKey;
        if (options.authenticated !== undefined) spec.authenticated = options.authenticated;
        return this.ctx.transport.send(spec);
      },
    };
  }

  /**
   * The answer's body, checked to be a JSON object (or, with `list`, a `{data: [...]}` page).
   *
   * @throws ResponseValidationError the body is not JSON of that shape.
   */
  protected async body<T>(
    answer: Answer<T>,
    expected: 'object' | 'list' | 'array' = 'object',
  ): Promise<T> {
    let result: Awaited<Answer<T>>;
    try {
      result = await answer;
    } catch (error) {
      if (error instanceof SyntaxError) {
        throw new ResponseValidationError(
          `The ${this.name} service answered with a body that is not JSON.`,
          {
            service: this.name,
            cause: error,
          },
        );
      }
      throw error;
    }
    const data: unknown = result.data;
    const ok =
      expected === 'array'
        ? Array.isArray(data)
        : data !== null &&
          typeof data === 'object' &&
          !Array.isArray(data) &&
          (expected === 'object' || Array.isArray((data as { data?: unknown }).data));
    if (!ok) {
      throw new ResponseValidationError(
        `${result.response.status} answer of the ${this.name} service is not the expected ${expected}.`,
        {
          code: result.response.status,
          requestId: result.response.headers.get('X-Request-ID'),
          service: this.name,
          details: { expected },
        },
      );
    }
    return data as T;
  }

  /** A write whose answer has no body (204). */
  protected async empty(answer: Answer<unknown>): Promise<void> {
    await answer;
  }
}

/** Every item of a page-numbered list, fetching each page only when the previous is used up. */
export async function* iteratePages<T>(
  fetch: (page: number) => Promise<{ data: T[]; pagination: { has_next: boolean } }>,
): AsyncGenerator<T, void, undefined> {
  for (let page = 1; ; page += 1) {
    const answer = await fetch(page);
    yield* answer.data;
    if (!answer.pagination.has_next) return;
  }
}

/** `values` without the entries that are undefined (options the caller left out). */
export function compact<T extends object>(values: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>;
  };
}

export const MAX_PER_PAGE = 100;
