/**
 * Typed events of a contract: `publishEvent` validates and encodes a payload and
 * publishes it on `$EVT.<name>.<major>.<event>`; `subscribeEvent` decodes and validates
 * what arrives, as an async iterable (or a callback). Events that fail validation or
 * decoding are not delivered: they are counted and reported to `onInvalid`.
 */
import type { Connection, Message, OverflowPolicy, Subscription } from '../client/index.js';
import { contentTypeHeader, type Codec } from '../codec/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { eventSubject, isServiceContract, resolveCodec } from './define.js';
import type { AnySchema, CodecName, EventName, In, Out, ServiceContract } from './types.js';
import { isPromiseLike, validateAsync, validateWith } from './validate.js';
import { serverRegistry, requestCodec } from './wire-codec.js';

/** The payload type a caller publishes for an event. */
export type EventInput<C extends ServiceContract, E extends EventName<C>> = In<C['events'][E]>;
/** The payload type a subscriber receives. */
export type EventPayload<C extends ServiceContract, E extends EventName<C>> = Out<C['events'][E]>;

/** Options of {@link publishEvent}. */
export interface PublishEventOptions {
  readonly headers?: Readonly<Record<string, string>>;
  /** @default the contract's codec */
  readonly codec?: CodecName | Codec;
  /** Validate before publishing. @default true */
  readonly validate?: boolean;
}

/**
 * Validate, encode and publish an event. Resolves once it is queued for sending (like
 * `publish`, fire-and-forget); rejects with a `PLEXUS_ERR_VALIDATION` ServiceError for
 * an invalid payload, which is then not sent.
 */
export async function publishEvent<C extends ServiceContract, E extends EventName<C>>(
  bus: Connection,
  contract: C,
  event: E,
  payload: EventInput<C, E>,
  options: PublishEventOptions = {},
): Promise<void> {
  const subject = eventSubject(contract, event);
  const codec = options.codec !== undefined ? resolveCodec(options.codec) : contract.codec;
  const schema = (contract.events as Readonly<Record<string, AnySchema>>)[event]!;
  const value = (options.validate ?? true) ? await validateAsync(schema, payload, 'event', `${contract.name}.${event}`) : payload;
  bus.publish(subject, codec.encode(value), { headers: { ...(options.headers ?? {}), [contentTypeHeader]: codec.contentType } });
}

/** One received event. */
export interface ContractEvent<T> {
  /** The validated payload. */
  readonly data: T;
  /** The publisher's identity, stamped by the broker. */
  readonly from: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly subject: string;
}

/** Options of {@link subscribeEvent}. */
export interface SubscribeEventOptions<T> {
  /** Share events among subscribers of this queue group (each event to one). */
  readonly queue?: string;
  /** Deliver to this function instead of the iterator (events arrive in order; async validation may reorder). */
  readonly callback?: (event: ContractEvent<T>) => void;
  /** Called for each event that failed to decode or validate (it is dropped). */
  readonly onInvalid?: (err: unknown, msg: Message) => void;
  /** Validate payloads. @default true */
  readonly validate?: boolean;
  /** Codecs accepted besides json, msgpack, cbor and the contract's. */
  readonly codecs?: readonly Codec[];
  /** Queue bound and overflow of the iterator, as for `subscribe`. */
  readonly maxPending?: number;
  readonly overflow?: OverflowPolicy;
  /** Unsubscribe when this aborts. */
  readonly signal?: AbortSignal;
}

/** A typed event subscription. `break`ing out of `for await` unsubscribes. */
export interface EventSubscription<T> extends AsyncIterable<ContractEvent<T>> {
  /** Events dropped for failing to decode or validate. */
  readonly invalid: number;
  unsubscribe(): void;
  /** Settles when the subscription ends. */
  readonly closed: Promise<void>;
}

/** Subscribe to a contract's event, typed and validated. */
export function subscribeEvent<C extends ServiceContract, E extends EventName<C>>(
  bus: Connection,
  contract: C,
  event: E,
  options: SubscribeEventOptions<EventPayload<C, E>> = {},
): EventSubscription<EventPayload<C, E>> {
  if (!isServiceContract(contract)) throw new PlexusError(ErrorCode.INVALID_ARGUMENT, 'subscribeEvent needs a contract from defineService');
  type T = EventPayload<C, E>;
  const subject = eventSubject(contract, event);
  const schema = (contract.events as Readonly<Record<string, AnySchema>>)[event]!;
  const what = `${contract.name}.${event}`;
  const registry = serverRegistry(contract, options.codecs);
  const validate = options.validate ?? true;
  let invalid = 0;

  /** The event, a promise of it, or undefined when it is invalid (already reported). */
  const toEvent = (msg: Message): ContractEvent<T> | Promise<ContractEvent<T> | undefined> | undefined => {
    const reject = (err: unknown): undefined => {
      invalid++;
      try {
        options.onInvalid?.(err, msg);
      } catch {
        // The report must not break delivery.
      }
      return undefined;
    };
    try {
      const headers = msg.headers;
      const raw = requestCodec(headers, contract.codec, registry).decode(msg.data);
      const make = (data: unknown): ContractEvent<T> => ({ data: data as T, from: msg.from, headers, subject: msg.subject });
      if (!validate) return make(raw);
      const checked = validateWith(schema, raw, 'event', what);
      return isPromiseLike(checked) ? Promise.resolve(checked).then(make, reject) : make(checked);
    } catch (err) {
      return reject(err);
    }
  };

  const base = { ...(options.queue ? { queue: options.queue } : {}), ...(options.signal ? { signal: options.signal } : {}) };
  let sub: Subscription;
  if (options.callback) {
    const cb = options.callback;
    const deliver = (e: ContractEvent<T> | undefined): void => {
      if (e) cb(e);
    };
    sub = bus.subscribe(subject, {
      ...base,
      callback: (msg) => {
        const e = toEvent(msg);
        if (isPromiseLike(e)) void Promise.resolve(e).then(deliver);
        else deliver(e);
      },
    });
  } else {
    sub = bus.subscribe(subject, {
      ...base,
      ...(options.maxPending !== undefined ? { maxPending: options.maxPending } : {}),
      ...(options.overflow ? { overflow: options.overflow } : {}),
    });
  }
  const core = sub;
  return {
    get invalid() {
      return invalid;
    },
    unsubscribe: () => core.unsubscribe(),
    closed: core.closed,
    async *[Symbol.asyncIterator]() {
      if (options.callback) throw new PlexusError(ErrorCode.INVALID_ARGUMENT, 'a callback event subscription has no iterator');
      for await (const msg of core) {
        const e = await toEvent(msg);
        if (e) yield e;
      }
    },
  };
}
