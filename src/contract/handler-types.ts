/** Types of service implementations and typed clients, inferred from a contract. */
import type { Codec } from '../codec/index.js';
import type { BalanceStrategy } from '../discovery/balance.js';
import type { HandlerContext } from './context.js';
import type { CallInput, CallOutput, CodecName, HandlerInput, HandlerOutput, MethodDefinition, ServiceContract } from './types.js';

type Awaitable<T> = T | Promise<T>;

/** A handler for one method, shaped by its `stream` kind. */
export type MethodHandler<M extends MethodDefinition> = M['stream'] extends 'server'
  ? (input: HandlerInput<M>, ctx: HandlerContext) => AsyncIterable<HandlerOutput<M>> | Iterable<HandlerOutput<M>>
  : M['stream'] extends 'client'
    ? (input: AsyncIterable<HandlerInput<M>>, ctx: HandlerContext) => Awaitable<HandlerOutput<M>>
    : (input: HandlerInput<M>, ctx: HandlerContext) => Awaitable<HandlerOutput<M>>;

/** An implementation of every method of a contract. */
export type ServiceImpl<C extends ServiceContract> = {
  readonly [K in keyof C['methods'] & string]: MethodHandler<C['methods'][K]>;
};

/** Retry policy of a call (idempotent methods only). */
export interface RetryOptions {
  /** Tries in all, the first included. @default 3 */
  readonly attempts?: number;
  /** Base delay; doubles each try, with jitter, capped at `maxBackoffMs`. @default 50 */
  readonly backoffMs?: number;
  /** Largest delay between tries. @default 1000 */
  readonly maxBackoffMs?: number;
}

/** Options of one call. */
export interface CallOptions {
  /** Deadline of this call in ms; inside a handler it can only shorten the handler's own. */
  readonly timeoutMs?: number;
  /** Cancel the call; the cancellation travels to the handler (and on to its own calls). */
  readonly signal?: AbortSignal;
  /** Application headers (keys may not start with ':'). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Retries for idempotent methods: `false` for none. @default the client's, else 3 attempts from 50 ms */
  readonly retry?: false | RetryOptions;
  /** Codec of this call (the server answers in the same one). @default the client's, else the contract's */
  readonly codec?: CodecName | Codec;
  /** Validate the input before sending. @default the client's, else true */
  readonly validate?: boolean;
  /** How this call picks an instance (docs/discovery.md). @default the client's `balance`, else round-robin */
  readonly balance?: BalanceStrategy;
}

/** A typed method of a client. */
export type ClientMethod<M extends MethodDefinition> = M['stream'] extends 'server'
  ? (input: CallInput<M>, options?: CallOptions) => AsyncIterable<CallOutput<M>>
  : M['stream'] extends 'client'
    ? (input: AsyncIterable<CallInput<M>> | Iterable<CallInput<M>>, options?: CallOptions) => Promise<CallOutput<M>>
    : (input: CallInput<M>, options?: CallOptions) => Promise<CallOutput<M>>;

/** A typed client: one function per method. */
export type ServiceClient<C extends ServiceContract> = {
  readonly [K in keyof C['methods'] & string]: ClientMethod<C['methods'][K]>;
};
