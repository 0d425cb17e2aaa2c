import { keys } from '../cache/keys.js';
import { checkId } from '../transport/ids.js';
import type { FieldCreate, Table, TableList } from '../types/index.js';
import {
  type CallOptions,
  compact,
  iteratePages,
  MAX_PER_PAGE,
  Service,
  type WriteOptions,
} from './base.js';
import type { PageQuery } from './workspaces.js';

/** `/tables`: the tables of a base, each with its fields. */
export class TableService extends Service {
  readonly name = 'table';

  async getTables(
    baseId: string,
    query: PageQuery = {},
    options: CallOptions = {},
  ): Promise<TableList> {
    checkId('bas', baseId, 'baseId');
    const params = { base_id: baseId, ...compact({ page: query.page, per_page: query.perPage }) };
    return this.ctx.reads.read(
      keys.tables(baseId, params),
      () =>
        this.body(
          this.ctx.api.GET('/tables', { params: { query: params }, ...this.via(options) }),
          'list',
        ),
      'schema',
    );
  }

  iterTables(baseId: string, options: CallOptions = {}): AsyncGenerator<Table> {
    return iteratePages((page) => this.getTables(baseId, { page, perPage: MAX_PER_PAGE }, options));
  }

  /** A table with its fields (the schema the cache's filter matcher reads). */
  async getTable(tableId: string, options: CallOptions = {}): Promise<Table> {
    const table_id = checkId('tbl', tableId, 'tableId');
    return this.ctx.reads.read(
      keys.table(tableId),
      () =>
        this.body(
          this.ctx.api.GET('/tables/{table_id}', {
            params: { path: { table_id } },
            ...this.via(options),
          }),
        ),
      'schema',
    );
  }

  /** Creates a table; without `fields` it gets a primary text field `Name`. */
  async createTable(
    body: { baseId: string; name: string; description?: string; fields?: FieldCreate[] },
    options: WriteOptions = {},
  ): Promise<Table> {
    checkId('bas', body.baseId, 'baseId');
    const table = await this.body(
      this.ctx.api.POST('/tables', {
        body: compact({
          base_id: body.baseId,
          name: body.name,
          description: body.description,
          fields: body.fields,
        }),
        ...this.via(options),
      }),
    );
    this.ctx.changed({ kind: 'invalidate', keys: [keys.tables(body.baseId)] });
    return table;
  }

  async updateTable(
    tableId: string,
    body: { name?: string; description?: string; primaryFieldId?: string },
    options: WriteOptions = {},
  ): Promise<Table> {
    const table_id = checkId('tbl', tableId, 'tableId');
    const table = await this.body(
      this.ctx.api.PUT('/tables/{table_id}', {
        params: { path: { table_id } },
        body: compact({
          name: body.name,
          description: body.description,
          primary_field_id: body.primaryFieldId,
        }),
        ...this.via(options),
      }),
    );
    this.ctx.changed({
      kind: 'invalidate',
      keys: [keys.tables(table.base_id), keys.table(tableId)],
    });
    return table;
  }

  async deleteTable(tableId: string, options: WriteOptions = {}): Promise<void> {
    const table_id = checkId('tbl', tableId, 'tableId');
    await this.empty(
      this.ctx.api.DELETE('/tables/{table_id}', {
        params: { path: { table_id } },
        ...this.via(options),
      }),
    );
    this.ctx.changed({
      kind: 'invalidate',
      keys: [[...keys.all(), 'tables'], keys.table(tableId), keys.records(tableId)],
    });
  }
}
