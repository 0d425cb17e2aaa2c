/**
 * The record service: reading records (filtered, sorted, a cursor page at a time) and writing.
 *
 * Every write takes an optional `idempotencyKey` (one is generated per call otherwise; the
 * offline outbox passes its own so a replay is applied once). `expectedVersion` sends
 * `If-Match`, so a write to a record someone changed meanwhile fails with `ConflictError`
 * (`.current` holds the record as it is now) instead of overwriting their change.
 *
 * With offline support on, a single-record write that cannot reach the backend (no answer, an
 * open breaker) is stored in the outbox under its idempotency key and the call throws
 * `OfflineError` with the entry's id; the outbox sends it later, applied once. Batches are not
 * queued (they throw as they are).
 */
import { keys, type RecordListQuery } from '../cache/keys.js';
import { APIConnectionError, InvalidRequestError, OfflineError } from '../errors.js';
import { checkId, newId } from '../transport/ids.js';
import type {
  AirtableRecord,
  DeletedBatch,
  FilterGroup,
  RecordBatch,
  RecordList,
} from '../types/index.js';
import {
  type CallOptions,
  compact,
  type RecordWriteOp,
  Service,
  type WriteOptions,
} from './base.js';

/** The most records one batch call may carry (the backend refuses more, all or nothing). */
export const MAX_BATCH_SIZE = 100;

export type Fields = { [field: string]: unknown };
export type SortKey = { field: string; direction?: 'asc' | 'desc' };
export type RecordQuery = Omit<RecordListQuery, 'tableId' | 'filter'> & { filter?: FilterGroup };

export interface RecordWriteOptions extends WriteOptions {
  /** Send `If-Match`: fail with `ConflictError` unless the record is at this version. */
  expectedVersion?: number;
  /** The record's table (lets a write queued offline show in cached lists). */
  tableId?: string;
  /** Read loose values and add missing select choices. */
  typecast?: boolean;
}

/** `/records`: the rows of a table, as `{field name: value}` with a version each. */
export class RecordService extends Service {
  readonly name = 'record';

  /**
   * One cursor page of a table's records; `pagination.next_offset` asks for the next.
   *
   * @throws InvalidOffsetError `offset` expired or is not one the backend gave.
   * @throws InvalidRequestError an unknown field, operator or malformed filter.
   * @throws NotFoundError the table or view does not exist or may not be seen.
   */
  async getRecords(
    tableId: string,
    query: RecordQuery = {},
    options: CallOptions = {},
  ): Promise<RecordList> {
    checkId('tbl', tableId, 'tableId');
    const plain = compact(query);
    return this.ctx.reads.read(
      keys.records(tableId, plain),
      () => this.fetchRecords(tableId, plain, options),
      'records',
    );
  }

  /** The same query sent as a JSON body (`POST /records/query`), for queries too long for a URL. */
  async queryRecords(
    tableId: string,
    query: RecordQuery = {},
    options: CallOptions = {},
  ): Promise<RecordList> {
    checkId('tbl', tableId, 'tableId');
    const plain = compact(query);
    return this.ctx.reads.read(
      keys.records(tableId, plain),
      () =>
        this.body(
          this.ctx.api.POST('/records/query', {
            body: compact({
              table_id: tableId,
              view_id: plain.viewId,
              fields: plain.fields,
              sort: plain.sort,
              filter: plain.filter,
              page_size: plain.pageSize,
              offset: plain.offset,
            }),
            ...this.via(options),
          }),
          'list',
        ),
      'records',
    );
  }

  /** Every record the query selects, fetching the next page only when needed. */
  async *iterRecords(
    tableId: string,
    query: Omit<RecordQuery, 'offset'> = {},
    options: CallOptions = {},
  ): AsyncGenerator<AirtableRecord> {
    let offset: string | undefined;
    do {
      const page = await this.getRecords(
        tableId,
        offset === undefined ? query : { ...query, offset },
        options,
      );
      yield* page.data;
      offset = page.pagination.next_offset ?? undefined;
    } while (offset !== undefined);
  }

  async getRecord(recordId: string, options: CallOptions = {}): Promise<AirtableRecord> {
    const record_id = checkId('rec', recordId, 'recordId');
    return this.ctx.reads.read(
      keys.record(recordId),
      () =>
        this.body(
          this.ctx.api.GET('/records/{record_id}', {
            params: { path: { record_id } },
            ...this.via(options),
          }),
        ),
      'records',
    );
  }

  async createRecord(
    tableId: string,
    fields: Fields,
    options: RecordWriteOptions = {},
  ): Promise<AirtableRecord> {
    checkId('tbl', tableId, 'tableId');
    const keyed = this.keyed(options);
    const record = await this.queueing(
      () =>
        this.body(
          this.ctx.api.POST('/records', {
            body: compact({ table_id: tableId, fields, typecast: options.typecast }),
            ...this.via(keyed),
          }),
        ),
      { kind: 'create', tableId, recordId: null, fields },
      keyed,
    );
    this.ctx.changed({ kind: 'record', record });
    return record;
  }

  /** Merges `fields` into the record. @throws ConflictError `expectedVersion` is not current. */
  async updateRecord(
    recordId: string,
    fields: Fields,
    options: RecordWriteOptions = {},
  ): Promise<AirtableRecord> {
    return this.write('PATCH', recordId, fields, options);
  }

  /** Replaces all of the record's fields. @throws ConflictError `expectedVersion` is not current. */
  async replaceRecord(
    recordId: string,
    fields: Fields,
    options: RecordWriteOptions = {},
  ): Promise<AirtableRecord> {
    return this.write('PUT', recordId, fields, options);
  }

  async deleteRecord(recordId: string, options: RecordWriteOptions = {}): Promise<void> {
    const record_id = checkId('rec', recordId, 'recordId');
    const keyed = this.keyed(options);
    await this.queueing(
      () =>
        this.empty(
          this.ctx.api.DELETE('/records/{record_id}', {
            params: { path: { record_id } },
            ...this.via(ifMatch(keyed)),
          }),
        ),
      { kind: 'delete', tableId: options.tableId ?? '', recordId, fields: {} },
      keyed,
    );
    this.ctx.changed({ kind: 'recordDeleted', recordId, tableId: options.tableId ?? null });
  }

  /** Creates up to 100 records of one table, all or nothing. */
  async createRecords(
    tableId: string,
    records: Fields[],
    options: RecordWriteOptions = {},
  ): Promise<AirtableRecord[]> {
    checkId('tbl', tableId, 'tableId');
    batchSize(records.length);
    const batch: RecordBatch = await this.body(
      this.ctx.api.POST('/records/batch', {
        body: compact({
          table_id: tableId,
          records: records.map((fields) => ({ fields })),
          typecast: options.typecast,
        }),
        ...this.via(options),
      }),
      'list',
    );
    for (const record of batch.data) this.ctx.changed({ kind: 'record', record });
    return batch.data;
  }

  /** Merges fields into up to 100 records of one table, all or nothing. */
  async updateRecords(
    tableId: string,
    records: { id: string; fields: Fields }[],
    options: RecordWriteOptions = {},
  ): Promise<AirtableRecord[]> {
    checkId('tbl', tableId, 'tableId');
    batchSize(records.length);
    for (const record of records) checkId('rec', record.id, 'records.id');
    const batch: RecordBatch = await this.body(
      this.ctx.api.PATCH('/records/batch', {
        body: compact({ table_id: tableId, records, typecast: options.typecast }),
        ...this.via(options),
      }),
      'list',
    );
    for (const record of batch.data) this.ctx.changed({ kind: 'record', record });
    return batch.data;
  }

  /** Deletes up to 100 records of one table, all or nothing. */
  async deleteRecords(
    tableId: string,
    ids: string[],
    options: WriteOptions = {},
  ): Promise<DeletedBatch> {
    checkId('tbl', tableId, 'tableId');
    batchSize(ids.length);
    for (const id of ids) checkId('rec', id, 'ids');
    const deleted: DeletedBatch = await this.body(
      this.ctx.api.POST('/records/batch-delete', {
        body: { table_id: tableId, ids },
        ...this.via(options),
      }),
      'list',
    );
    for (const id of ids) this.ctx.changed({ kind: 'recordDeleted', recordId: id, tableId });
    return deleted;
  }

  private async write(
    method: 'PATCH' | 'PUT',
    recordId: string,
    fields: Fields,
    options: RecordWriteOptions,
  ): Promise<AirtableRecord> {
    const record_id = checkId('rec', recordId, 'recordId');
    const keyed = this.keyed(options);
    const init = {
      params: { path: { record_id } },
      body: compact({ fields, typecast: options.typecast }),
      ...this.via(ifMatch(keyed)),
    };
    const kind = method === 'PATCH' ? 'update' : 'replace';
    const record = await this.queueing(
      () =>
        this.body(
          method === 'PATCH'
            ? this.ctx.api.PATCH('/records/{record_id}', init)
            : this.ctx.api.PUT('/records/{record_id}', init),
        ),
      { kind, tableId: options.tableId ?? '', recordId, fields },
      keyed,
    );
    this.ctx.changed({ kind: 'record', record });
    return record;
  }

  /** `options` with the idempotency key fixed now, when a failed write may be queued under it. */
  private keyed<T extends RecordWriteOptions>(options: T): T {
    return this.ctx.unreachable === undefined || options.idempotencyKey !== undefined
      ? options
      : { ...options, idempotencyKey: newId() };
  }

  /** Runs `send`; a write that found no backend goes to the outbox when one is attached. */
  private async queueing<T>(
    send: () => Promise<T>,
    op: Pick<RecordWriteOp, 'kind' | 'tableId' | 'recordId' | 'fields'>,
    options: RecordWriteOptions,
  ): Promise<T> {
    try {
      return await send();
    } catch (error) {
      const unreachable = this.ctx.unreachable;
      if (unreachable === undefined || !(error instanceof APIConnectionError)) throw error;
      if (error instanceof OfflineError) throw error;
      return unreachable(
        {
          ...op,
          expectedVersion: options.expectedVersion ?? null,
          baseFields: null,
          idempotencyKey: String(options.idempotencyKey),
          ...(options.typecast === undefined ? {} : { typecast: options.typecast }),
        },
        error,
      );
    }
  }

  private fetchRecords(
    tableId: string,
    query: { [K in keyof RecordQuery]: Exclude<RecordQuery[K], undefined> },
    options: CallOptions,
  ): Promise<RecordList> {
    // Contract §6: `fields` repeats in the URL; `sort` and `filter` travel as JSON text.
    const params = compact({
      table_id: tableId,
      view_id: query.viewId,
      fields: query.fields,
      sort: query.sort === undefined ? undefined : JSON.stringify(query.sort),
      filter: query.filter === undefined ? undefined : JSON.stringify(query.filter),
      page_size: query.pageSize,
      offset: query.offset,
    });
    return this.body(
      this.ctx.api.GET('/records', { params: { query: params }, ...this.via(options) }),
      'list',
    );
  }
}

function ifMatch(options: RecordWriteOptions): RecordWriteOptions & { ifMatch?: number } {
  return options.expectedVersion === undefined
    ? options
    : { ...options, ifMatch: options.expectedVersion };
}

function batchSize(count: number): void {
  if (count < 1 || count > MAX_BATCH_SIZE) {
    throw new InvalidRequestError(`A batch holds 1 to ${MAX_BATCH_SIZE} records, got ${count}.`, {
      details: { fields: { records: `1 to ${MAX_BATCH_SIZE} records` } },
    });
  }
}
