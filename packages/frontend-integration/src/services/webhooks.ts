import { keys } from '../cache/keys.js';
import { checkId } from '../transport/ids.js';
import type {
  DeliveryList,
  Webhook,
  WebhookCreated,
  WebhookDelivery,
  WebhookList,
} from '../types/index.js';
import {
  type CallOptions,
  compact,
  iteratePages,
  MAX_PER_PAGE,
  Service,
  type WriteOptions,
} from './base.js';
import type { PageQuery } from './workspaces.js';

/** `/webhooks`: signed deliveries of a workspace's events to a URL (needs `webhook:write`). */
export class WebhookService extends Service {
  readonly name = 'webhook';

  async getWebhooks(
    workspaceId: string,
    query: PageQuery = {},
    options: CallOptions = {},
  ): Promise<WebhookList> {
    checkId('wsp', workspaceId, 'workspaceId');
    const params = {
      workspace_id: workspaceId,
      ...compact({ page: query.page, per_page: query.perPage }),
    };
    return this.ctx.reads.read(
      keys.webhooks(workspaceId, params),
      () =>
        this.body(
          this.ctx.api.GET('/webhooks', { params: { query: params }, ...this.via(options) }),
          'list',
        ),
      'default',
    );
  }

  iterWebhooks(workspaceId: string, options: CallOptions = {}): AsyncGenerator<Webhook> {
    return iteratePages((page) =>
      this.getWebhooks(workspaceId, { page, perPage: MAX_PER_PAGE }, options),
    );
  }

  async getWebhook(webhookId: string, options: CallOptions = {}): Promise<Webhook> {
    const webhook_id = checkId('whk', webhookId, 'webhookId');
    return this.ctx.reads.read(
      keys.webhook(webhookId),
      () =>
        this.body(
          this.ctx.api.GET('/webhooks/{webhook_id}', {
            params: { path: { webhook_id } },
            ...this.via(options),
          }),
        ),
      'default',
    );
  }

  /** Creates a webhook; the answer's `secret` is shown this once. */
  async createWebhook(
    body: {
      workspaceId: string;
      url: string;
      eventTypes: string[];
      tableId?: string;
      isActive?: boolean;
    },
    options: WriteOptions = {},
  ): Promise<WebhookCreated> {
    checkId('wsp', body.workspaceId, 'workspaceId');
    const created = await this.body(
      this.ctx.api.POST('/webhooks', {
        body: compact({
          workspace_id: body.workspaceId,
          url: body.url,
          event_types: body.eventTypes,
          table_id: body.tableId,
          is_active: body.isActive,
        }),
        ...this.via(options),
      }),
    );
    this.ctx.changed({ kind: 'invalidate', keys: [keys.webhooks(body.workspaceId)] });
    return created;
  }

  async updateWebhook(
    webhookId: string,
    body: { url?: string; eventTypes?: string[]; tableId?: string; isActive?: boolean },
    options: WriteOptions = {},
  ): Promise<Webhook> {
    const webhook_id = checkId('whk', webhookId, 'webhookId');
    const webhook = await this.body(
      this.ctx.api.PUT('/webhooks/{webhook_id}', {
        params: { path: { webhook_id } },
        body: compact({
          url: body.url,
          event_types: body.eventTypes,
          table_id: body.tableId,
          is_active: body.isActive,
        }),
        ...this.via(options),
      }),
    );
    this.ctx.changed({
      kind: 'invalidate',
      keys: [keys.webhook(webhookId), keys.webhooks(webhook.workspace_id)],
    });
    return webhook;
  }

  async deleteWebhook(webhookId: string, options: WriteOptions = {}): Promise<void> {
    const webhook_id = checkId('whk', webhookId, 'webhookId');
    await this.empty(
      this.ctx.api.DELETE('/webhooks/{webhook_id}', {
        params: { path: { webhook_id } },
        ...this.via(options),
      }),
    );
    this.ctx.changed({
      kind: 'invalidate',
      keys: [keys.webhook(webhookId), [...keys.all(), 'webhooks']],
    });
  }

  async getDeliveries(
    webhookId: string,
    query: PageQuery & { status?: 'pending' | 'succeeded' | 'failed' } = {},
    options: CallOptions = {},
  ): Promise<DeliveryList> {
    const webhook_id = checkId('whk', webhookId, 'webhookId');
    return this.body(
      this.ctx.api.GET('/webhooks/{webhook_id}/deliveries', {
        params: {
          path: { webhook_id },
          query: compact({ status: query.status, page: query.page, per_page: query.perPage }),
        },
        ...this.via(options),
      }),
      'list',
    );
  }

  iterDeliveries(webhookId: string, options: CallOptions = {}): AsyncGenerator<WebhookDelivery> {
    return iteratePages((page) =>
      this.getDeliveries(webhookId, { page, perPage: MAX_PER_PAGE }, options),
    );
  }

  /** Sends a failed delivery again (202). @throws ConflictError while the webhook is disabled. */
  async retryDelivery(
    webhookId: string,
    deliveryId: string,
    options: WriteOptions = {},
  ): Promise<WebhookDelivery> {
    const path = {
      webhook_id: checkId('whk', webhookId, 'webhookId'),
      delivery_id: checkId('dlv', deliveryId, 'deliveryId'),
    };
    return this.body(
      this.ctx.api.POST('/webhooks/{webhook_id}/deliveries/{delivery_id}/retry', {
        params: { path },
        ...this.via(options),
      }),
    );
  }

  /** Sends a synthetic `webhook.test` event once and answers its delivery. */
  async testWebhook(webhookId: string, options: WriteOptions = {}): Promise<WebhookDelivery> {
    const webhook_id = checkId('whk', webhookId, 'webhookId');
    return this.body(
      this.ctx.api.POST('/webhooks/{webhook_id}/test', {
        params: { path: { webhook_id } },
        ...this.via(options),
      }),
    );
  }
}
