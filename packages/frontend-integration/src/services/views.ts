import { keys } from '../cache/keys.js';
import { checkId } from '../transport/ids.js';
import type { View, ViewConfiguration, ViewIn, ViewList } from '../types/index.js';
import {
  type CallOptions,
  compact,
  iteratePages,
  MAX_PER_PAGE,
  Service,
  type WriteOptions,
} from './base.js';
import type { PageQuery } from './workspaces.js';

/** `/views`: a table's saved views (filters, sorts, visible fields). */
export class ViewService extends Service {
  readonly name = 'view';

  async getViews(
    tableId: string,
    query: PageQuery = {},
    options: CallOptions = {},
  ): Promise<ViewList> {
    checkId('tbl', tableId, 'tableId');
    const params = { table_id: tableId, ...compact({ page: query.page, per_page: query.perPage }) };
    return this.ctx.reads.read(
      keys.views(tableId, params),
      () =>
        this.body(
          this.ctx.api.GET('/views', { params: { query: params }, ...this.via(options) }),
          'list',
        ),
      'schema',
    );
  }

  iterViews(tableId: string, options: CallOptions = {}): AsyncGenerator<View> {
    return iteratePages((page) => this.getViews(tableId, { page, perPage: MAX_PER_PAGE }, options));
  }

  async getView(viewId: string, options: CallOptions = {}): Promise<View> {
    const view_id = checkId('viw', viewId, 'viewId');
    return this.ctx.reads.read(
      keys.view(viewId),
      () =>
        this.body(
          this.ctx.api.GET('/views/{view_id}', {
            params: { path: { view_id } },
            ...this.via(options),
          }),
        ),
      'schema',
    );
  }

  async createView(
    body: {
      tableId: string;
      name: string;
      type?: ViewIn['type'];
      configuration?: ViewConfiguration;
    },
    options: WriteOptions = {},
  ): Promise<View> {
    checkId('tbl', body.tableId, 'tableId');
    const view = await this.body(
      this.ctx.api.POST('/views', {
        body: compact({
          table_id: body.tableId,
          name: body.name,
          type: body.type,
          configuration: body.configuration,
        }),
        ...this.via(options),
      }),
    );
    this.ctx.changed({ kind: 'invalidate', keys: [keys.views(body.tableId)] });
    return view;
  }

  async updateView(
    viewId: string,
    body: { name?: string; configuration?: ViewConfiguration },
    options: WriteOptions = {},
  ): Promise<View> {
    const view_id = checkId('viw', viewId, 'viewId');
    const view = await this.body(
      this.ctx.api.PUT('/views/{view_id}', {
        params: { path: { view_id } },
        body: compact(body),
        ...this.via(options),
      }),
    );
    this.ctx.changed({
      kind: 'invalidate',
      keys: [keys.view(viewId), keys.views(view.table_id), keys.records(view.table_id)],
    });
    return view;
  }

  async deleteView(viewId: string, options: WriteOptions = {}): Promise<void> {
    const view_id = checkId('viw', viewId, 'viewId');
    await this.empty(
      this.ctx.api.DELETE('/views/{view_id}', {
        params: { path: { view_id } },
        ...this.via(options),
      }),
    );
    this.ctx.changed({ kind: 'invalidate', keys: [keys.view(viewId), [...keys.all(), 'views']] });
  }
}
