/**
 * The three realtime transports, each an async iterator of frames that knows nothing of the
 * connection: WebSocket (`/ws`, first-message auth), SSE over `fetch` (`/events`,
 * `Last-Event-ID`, parsed by eventsource-parser) and polling the event log (`/events?since=`).
 * Each starts after a `since` position and yields `ready` once the server confirmed the stream,
 * then `event`s in `seq` order and `reset` when the gap is past retention. An iterator that ends
 * or throws means the stream is gone; the connection decides what next.
 */
import { createParser } from 'eventsource-parser';
import { AuthenticationError, NetworkError } from '../errors.js';
import type { EventService } from '../services/events.js';
import type { TokenSource, Transport } from '../transport/client.js';
import type { AirtableEvent } from '../types/index.js';

export type Frame =
  | { kind: 'ready'; position: number | null }
  | { kind: 'event'; event: AirtableEvent }
  | { kind: 'reset'; position: number };

export type TransportName = 'websocket' | 'sse' | 'polling' | 'tab';

export interface FrameSource {
  readonly name: TransportName;
  open(since: number | null, signal: AbortSignal): AsyncIterable<Frame>;
}

/** The WebSocket constructor (the browser's, Node 22's, or one injected). */
export type WebSocketFactory = new (url: string) => WebSocket;

/** A close code 4401 (token expired, invalid) ends the stream with this error. */
export class SocketClosedError extends NetworkError {
  readonly closeCode: number;
  constructor(code: number, reason: string) {
    super(`The realtime socket closed (${code}${reason ? `: ${reason}` : ''}).`, {
      service: 'realtime',
    });
    this.closeCode = code;
  }
}

/** A queue between callbacks (socket, parser) and an async iterator. */
export class FrameQueue {
  private readonly items: Frame[] = [];
  private waiter: (() => void) | null = null;
  private failure: unknown = null;
  private ended = false;

  push(frame: Frame): void {
    this.items.push(frame);
    this.wake();
  }

  fail(error: unknown): void {
    if (this.ended) return;
    this.failure = error;
    this.ended = true;
    this.wake();
  }

  async *drain(): AsyncGenerator<Frame> {
    for (;;) {
      const next = this.items.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (this.ended) throw this.failure;
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
    }
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }
}

export interface WebSocketOptions {
  url: string;
  WebSocket: WebSocketFactory;
  tokens: TokenSource;
  heartbeatInterval: number;
  heartbeatTimeout: number;
  /** Renewed tokens are sent on the live socket as they arrive. */
  onTokenChange?: (listener: () => void) => () => void;
}

export function webSocketFrames(options: WebSocketOptions): FrameSource {
  return {
    name: 'websocket',
    async *open(since, signal) {
      const token = await options.tokens.getToken();
      if (token === null) throw new AuthenticationError('Not signed in.', { service: 'realtime' });
      const queue = new FrameQueue();
      const socket = new options.WebSocket(options.url);
      let lastPong = Date.now();
      let heartbeat: ReturnType<typeof setInterval> | null = null;
      const send = (message: object): void => {
        if (socket.readyState === 1) socket.send(JSON.stringify(message));
      };
      const stopRenewal = options.onTokenChange?.(() => {
        void options.tokens.getToken().then((fresh) => {
          if (fresh !== null) send({ type: 'auth', token: fresh });
        });
      });
      socket.onopen = () => send({ type: 'auth', token });
      socket.onmessage = (message) => {
        let frame: { type?: string; [key: string]: unknown };
        try {
          frame = JSON.parse(String(message.data));
        } catch {
          return;
        }
        switch (frame.type) {
          case 'auth_ok':
            if (heartbeat === null) {
              const subscribe: { [key: string]: unknown } = {
                type: 'subscribe',
                subscription_id: 'all',
                channel: '*',
                filters: {},
              };
              if (since !== null) subscribe.since = since;
              send(subscribe);
              lastPong = Date.now();
              heartbeat = setInterval(() => {
                if (Date.now() - lastPong > options.heartbeatInterval + options.heartbeatTimeout) {
                  socket.close(4000, 'heartbeat missed');
                  queue.fail(
                    new NetworkError('The realtime socket stopped answering.', {
                      service: 'realtime',
                    }),
                  );
                  return;
                }
                send({ type: 'ping', timestamp: Date.now() });
              }, options.heartbeatInterval);
            }
            break;
          case 'pong':
            lastPong = Date.now();
            break;
          case 'subscription_confirmed':
            queue.push({
              kind: 'ready',
              position: typeof frame.position === 'number' ? frame.position : null,
            });
            break;
          case 'event':
            lastPong = Date.now();
            queue.push({ kind: 'event', event: frame.event as AirtableEvent });
            break;
          case 'subscription_reset':
            queue.push({ kind: 'reset', position: Number(frame.position) });
            break;
          case 'subscription_error':
            queue.fail(
              new NetworkError('The realtime subscription was refused.', {
                service: 'realtime',
                details: frame,
              }),
            );
            break;
          default:
            break; // unknown frame types are ignored (contract: accept unknown types)
        }
      };
      socket.onclose = (event) => queue.fail(new SocketClosedError(event.code, event.reason));
      socket.onerror = () =>
        queue.fail(new NetworkError('The realtime socket failed.', { service: 'realtime' }));
      const onAbort = (): void => socket.close(1000);
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        yield* queue.drain();
      } finally {
        signal.removeEventListener('abort', onAbort);
        stopRenewal?.();
        if (heartbeat !== null) clearInterval(heartbeat);
        if (socket.readyState <= 1) socket.close(1000);
      }
    },
  };
}

export function sseFrames(options: {
  url: string;
  transport: Transport;
  idleTimeout: number;
}): FrameSource {
  return {
    name: 'sse',
    async *open(since, signal) {
      const headers: { [key: string]: string } = { Accept: 'text/event-stream' };
      if (since !== null) headers['Last-Event-ID'] = String(since);
      // Each attempt asks the transport, so the Authorization header is fresh every time.
      const response = await options.transport.send({
        service: 'realtime',
        method: 'GET',
        url: options.url,
        headers,
        stream: true,
        signal,
      });
      const body = response.body;
      if (body === null)
        throw new NetworkError('The event stream has no body.', { service: 'realtime' });
      const queue = new FrameQueue();
      queue.push({ kind: 'ready', position: since });
      const parser = createParser({
        onEvent(message) {
          if (message.event === 'reset') {
            queue.push({ kind: 'reset', position: Number(message.id) });
          } else if (message.event === 'error') {
            queue.fail(
              new NetworkError('The event stream ended its scope.', { service: 'realtime' }),
            );
          } else {
            try {
              queue.push({ kind: 'event', event: JSON.parse(message.data) as AirtableEvent });
            } catch {
              // a malformed frame is skipped; the next one carries its own position
            }
          }
        },
      });
      const reader = body.pipeThrough(new TextDecoderStream()).getReader();
      let idle: ReturnType<typeof setTimeout> | null = null;
      const arm = (): void => {
        if (idle !== null) clearTimeout(idle);
        idle = setTimeout(() => {
          queue.fail(new NetworkError('The event stream went silent.', { service: 'realtime' }));
          void reader.cancel();
        }, options.idleTimeout);
      };
      const pump = async (): Promise<void> => {
        arm();
        for (;;) {
          const chunk = await reader.read();
          if (chunk.done) break;
          arm();
          parser.feed(chunk.value);
        }
        queue.fail(new NetworkError('The event stream ended.', { service: 'realtime' }));
      };
      pump().catch((error: unknown) =>
        queue.fail(
          signal.aborted
            ? signal.reason
            : new NetworkError('The event stream broke.', { service: 'realtime', cause: error }),
        ),
      );
      try {
        yield* queue.drain();
      } finally {
        if (idle !== null) clearTimeout(idle);
        void reader.cancel().catch(() => undefined);
      }
    },
  };
}

const BEYOND_HEAD = Number.MAX_SAFE_INTEGER;

export function pollingFrames(options: {
  events: EventService;
  interval: number;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
}): FrameSource {
  return {
    name: 'polling',
    async *open(since, signal) {
      let cursor = since;
      if (cursor === null) {
        // A position past the head answers `reset` with the head: start live from there.
        cursor = (await options.events.getEvents({ since: BEYOND_HEAD, limit: 1 }, { signal }))
          .next_since;
      }
      let ready = false;
      for (;;) {
        const page = await options.events.getEvents({ since: cursor, limit: 1000 }, { signal });
        if (!ready) {
          ready = true;
          yield { kind: 'ready', position: cursor };
        }
        if (page.reset) {
          yield { kind: 'reset', position: page.next_since };
        } else {
          for (const event of page.data) yield { kind: 'event', event };
        }
        cursor = page.next_since;
        if (page.data.length < 1000) await options.sleep(options.interval, signal);
      }
    },
  };
}
