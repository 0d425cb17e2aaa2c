import { EventsResetError } from '../errors.js';
import type { AirtableEvent, EventPage } from '../types/index.js';
import { type CallOptions, compact, Service } from './base.js';

export interface EventQuery {
  since?: number;
  channel?: string[];
  workspaceId?: string;
  baseId?: string;
  tableId?: string;
  /** One record, table… by its id. */
  aggregateId?: string;
  limit?: number;
}

/** `/events`: the event log, read from a position (what polling realtime reads). */
export class EventService extends Service {
  readonly name = 'realtime';

  /**
   * One page of events after `since`; `reset: true` when `since` is past retention.
   *
   * @throws NotFoundError `workspaceId`, `baseId` or `tableId` names something outside the
   *   caller's workspaces.
   */
  async getEvents(query: EventQuery = {}, options: CallOptions = {}): Promise<EventPage> {
    const params = compact({
      since: query.since,
      channel: query.channel,
      workspace_id: query.workspaceId,
      base_id: query.baseId,
      table_id: query.tableId,
      aggregate_id: query.aggregateId,
      limit: query.limit,
    });
    return this.body(
      this.ctx.api.GET('/events', { params: { query: params }, ...this.via(options) }),
    );
  }

  /**
   * Every event after `since` up to the head, page by page.
   *
   * @throws EventsResetError the events after `since` are gone (refetch, then read from `nextSince`).
   */
  async *iterEvents(
    query: EventQuery = {},
    options: CallOptions = {},
  ): AsyncGenerator<AirtableEvent> {
    let since = query.since ?? 0;
    const limit = query.limit ?? 1000;
    for (;;) {
      const page = await this.getEvents({ ...query, since, limit }, options);
      if (page.reset) {
        throw new EventsResetError('The events after this position are past retention; refetch.', {
          nextSince: page.next_since,
          service: this.name,
        });
      }
      yield* page.data;
      since = page.next_since;
      if (page.data.length < limit) return;
    }
  }
}
