/** `pyairtable.realtime`: subscriptions over the one connection, and its state. */
import type { AirtableEvent } from '../types/index.js';
import {
  batched,
  type ConnectionSnapshot,
  type RealtimeConnection,
  type SubscribeOptions,
  type Subscription,
} from './connection.js';

export class RealtimeClient {
  constructor(readonly connection: RealtimeConnection) {}

  /** Every event matching `options`, once each, in order. */
  subscribe(options: SubscribeOptions, callback: (event: AirtableEvent) => void): Subscription {
    return this.connection.subscribeEvents(options, callback);
  }

  /** The record events of one table (the original design's name). */
  subscribeToRecordChanges(
    tableId: string,
    callback: (event: AirtableEvent) => void,
    options: Omit<SubscribeOptions, 'tableId' | 'channel'> = {},
  ): Subscription {
    return this.connection.subscribeEvents({ ...options, channel: 'record', tableId }, callback);
  }

  /** Events in bursts: whatever arrives within `windowMs` of the first, as one array. */
  subscribeBatched(
    options: SubscribeOptions & { windowMs?: number },
    callback: (events: AirtableEvent[]) => void,
  ): Subscription {
    const { windowMs = 50, ...filter } = options;
    const batch = batched(callback, windowMs);
    const subscription = this.connection.subscribeEvents(filter, batch.push);
    return {
      get state() {
        return subscription.state;
      },
      unsubscribe() {
        batch.flush();
        subscription.unsubscribe();
      },
    };
  }

  /** The connection's state, transport and cursor now. */
  getState(): ConnectionSnapshot {
    return this.connection.snapshot;
  }

  /** Calls `listener` on every state change; returns the function that stops it. */
  onStateChange(listener: (snapshot: ConnectionSnapshot) => void): () => void {
    return this.connection.subscribe(listener);
  }

  connect(): void {
    this.connection.connect();
  }

  disconnect(): void {
    this.connection.disconnect();
  }
}
