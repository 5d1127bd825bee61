import type { PlexusError } from '../errors/index.js';
import type { Connection, ConnectionEvents, ConnectionStatus, ServerInfo } from './connection.js';
import type { Message, Payload, PublishOptions } from './message.js';
import type { RequestOptions } from './requests.js';
import type { RequestHandler } from './responder.js';
import type { SubscribeOptions, Subscription } from './subscription.js';

/** Options for {@link Bus.serve}. */
export interface ServeOptions {
  /** Queue group the responders share. @default '_serve' */
  readonly queue?: string;
  readonly signal?: AbortSignal;
}

/**
 * The core messaging surface every Plexus target gives: the embedded broker's
 * `Connection` and the backend adapters (`nats://`, …) returned by `connectBus`. Code
 * written against `Bus` runs unchanged when only the URL changes; what a backend cannot
 * give is listed in docs/backends.md and refused with PLEXUS_ERR_NOT_SUPPORTED.
 */
export interface Bus {
  /** `open`, `reconnecting`, `draining`, `closed` (`connecting` before the first link). */
  readonly status: ConnectionStatus;
  /** What the server said about this connection, including the sender identity. */
  readonly server: ServerInfo | undefined;
  /** Settles when the connection has closed, with the reason (undefined: closed by the application). */
  readonly closed: Promise<PlexusError | undefined>;
  on<K extends keyof ConnectionEvents>(event: K, listener: ConnectionEvents[K]): () => void;
  /** Fire-and-forget; throws for bad input or when closed. */
  publish(subject: string, data?: Payload, options?: PublishOptions): void;
  /** Subscribe (`*` one token, `>` the rest), iterated or with a `callback`; `queue` for a queue group. */
  subscribe(subject: string, options?: SubscribeOptions): Subscription;
  /** Ask one responder; settles with its reply or a coded error (timeout, cancel, no responders). */
  request(subject: string, data?: Payload, options?: RequestOptions): Promise<Message>;
  /** Answer requests on `subject`; the handler's `ctx.signal` fires on cancel or deadline. */
  serve(subject: string, handler: RequestHandler, options?: ServeOptions): Subscription;
  /** Resolves once the server has processed everything sent before it. */
  flush(timeoutMs?: number): Promise<void>;
  /** Stop receiving, let handlers and requests finish (bounded), then close. */
  drain(timeoutMs?: number): Promise<void>;
  /** Close now. */
  close(): Promise<void>;
}

/** Compile-time proof that the embedded-protocol `Connection` is a `Bus`. */
export const connectionIsBus: (conn: Connection) => Bus = (conn) => conn;
