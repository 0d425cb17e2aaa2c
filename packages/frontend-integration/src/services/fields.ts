import { keys } from '../cache/keys.js';
import { checkId } from '../transport/ids.js';
import type { FieldIn, FieldList, TableField } from '../types/index.js';
import {
  type CallOptions,
  compact,
  iteratePages,
  MAX_PER_PAGE,
  Service,
  type WriteOptions,
} from './base.js';
import type { PageQuery } from './workspaces.js';

/** `/fields`: a table's fields (schema changes refetch the table's cached records). */
export class FieldService extends Service {
  readonly name = 'field';

  async getFields(
    tableId: string,
    query: PageQuery = {},
    options: CallOptions = {},
  ): Promise<FieldList> {
    checkId('tbl', tableId, 'tableId');
    const params = { table_id: tableId, ...compact({ page: query.page, per_page: query.perPage }) };
    return this.ctx.reads.read(
      keys.fields(tableId, params),
      () =>
        this.body(
          this.ctx.api.GET('/fields', { params: { query: params }, ...this.via(options) }),
          'list',
        ),
      'schema',
    );
  }

  iterFields(tableId: string, options: CallOptions = {}): AsyncGenerator<TableField> {
    return iteratePages((page) =>
      this.getFields(tableId, { page, perPage: MAX_PER_PAGE }, options),
    );
  }

  async getField(fieldId: string, options: CallOptions = {}): Promise<TableField> {
    const field_id = checkId('fld', fieldId, 'fieldId');
    return this.ctx.reads.read(
      keys.field(fieldId),
      () =>
        this.body(
          this.ctx.api.GET('/fields/{field_id}', {
            params: { path: { field_id } },
            ...this.via(options),
          }),
        ),
      'schema',
    );
  }

  async createField(
    body: {
      tableId: string;
      name: string;
      type: FieldIn['type'];
      required?: boolean;
      options?: FieldIn['options'];
    },
    options: WriteOptions = {},
  ): Promise<TableField> {
    checkId('tbl', body.tableId, 'tableId');
    const field = await this.body(
      this.ctx.api.POST('/fields', {
        body: compact({
          table_id: body.tableId,
          name: body.name,
          type: body.type,
          required: body.required,
          options: body.options,
        }),
        ...this.via(options),
      }),
    );
    this.schemaChanged(body.tableId, fieldIdOf(field));
    return field;
  }

  async updateField(
    fieldId: string,
    body: {
      name?: string;
      type?: FieldIn['type'];
      required?: boolean;
      options?: FieldIn['options'];
    },
    options: WriteOptions = {},
  ): Promise<TableField> {
    const field_id = checkId('fld', fieldId, 'fieldId');
    const field = await this.body(
      this.ctx.api.PUT('/fields/{field_id}', {
        params: { path: { field_id } },
        body: compact(body),
        ...this.via(options),
      }),
    );
    this.schemaChanged(field.table_id, fieldId);
    return field;
  }

  async deleteField(
    fieldId: string,
    options: WriteOptions & { tableId?: string } = {},
  ): Promise<void> {
    const field_id = checkId('fld', fieldId, 'fieldId');
    await this.empty(
      this.ctx.api.DELETE('/fields/{field_id}', {
        params: { path: { field_id } },
        ...this.via(options),
      }),
    );
    this.ctx.changed({
      kind: 'invalidate',
      keys: options.tableId
        ? [
            keys.field(fieldId),
            keys.fields(options.tableId),
            keys.table(options.tableId),
            keys.records(options.tableId),
          ]
        : [
            keys.field(fieldId),
            [...keys.all(), 'fields'],
            [...keys.all(), 'table'],
            [...keys.all(), 'records'],
          ],
    });
  }

  private schemaChanged(tableId: string, fieldId: string): void {
    this.ctx.changed({
      kind: 'invalidate',
      keys: [keys.field(fieldId), keys.fields(tableId), keys.table(tableId), keys.records(tableId)],
    });
  }
}

function fieldIdOf(field: TableField): string {
  return field.id;
}
