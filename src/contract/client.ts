/**
 * `serviceClient`: a typed proxy over a contract. Each method is a function whose input
 * and output types come from the contract's schemas.
 */
import type { Connection } from '../client/index.js';
import type { Codec } from '../codec/index.js';
import { ServiceBalancer, type BalanceStrategy } from '../discovery/balance.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { callPrepared, prepareMethod, type CallDefaults } from './call.js';
import { isServiceContract, majorOfRange, resolveCodec } from './define.js';
import { callClientStream, callServerStream } from './stream-call.js';
import type { CallOptions, RetryOptions, ServiceClient } from './handler-types.js';
import type { CodecName, ServiceContract } from './types.js';

/** Options of {@link serviceClient}. */
export interface ServiceClientOptions {
  /**
   * Version range of servers to call (`^2`, `~2.1`, `2.x`, `2.1.0`): selects the major,
   * and calls reach only registered instances whose version is in the range (none:
   * PLEXUS_ERR_NO_MATCHING_INSTANCE). @default the contract's major, any instance of it
   */
  readonly version?: string;
  /**
   * `round-robin` (the broker's queue group) or `least-pending` (the instance with the
   * fewest of this client's calls in flight); see docs/discovery.md. @default 'round-robin'
   */
  readonly balance?: BalanceStrategy;
  /** Default deadline of every call, in ms. @default the method's `timeoutMs`, else the connection's request timeout */
  readonly timeoutMs?: number;
  /** Codec of every call. @default the contract's */
  readonly codec?: CodecName | Codec;
  /** Retries for idempotent methods. @default 3 attempts from 50 ms */
  readonly retry?: false | RetryOptions;
  /** Validate inputs before sending. @default true */
  readonly validate?: boolean;
}

/**
 * A typed client for `contract` on `bus`: `await client.shortestPath(input, options)`.
 * Unknown method names are `undefined`, as on any object.
 */
export function serviceClient<C extends ServiceContract>(bus: Connection, contract: C, options: ServiceClientOptions = {}): ServiceClient<C> {
  if (!isServiceContract(contract)) throw new PlexusError(ErrorCode.INVALID_ARGUMENT, 'serviceClient needs a contract from defineService');
  const defaults: CallDefaults = {
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.codec !== undefined ? { codec: resolveCodec(options.codec) } : {}),
    ...(options.retry !== undefined ? { retry: options.retry } : {}),
    ...(options.validate !== undefined ? { validate: options.validate } : {}),
    major: options.version !== undefined ? majorOfRange(options.version) : contract.major,
    balancer: new ServiceBalancer(bus, contract.name, {
      ...(options.version !== undefined ? { version: options.version } : {}),
      strategy: options.balance ?? 'round-robin',
    }),
  };
  const client: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(contract.methods)) {
    if (def.stream === 'server') {
      client[name] = (input: unknown, callOptions?: CallOptions) => callServerStream(bus, contract, name, input, callOptions, defaults);
    } else if (def.stream === 'client') {
      client[name] = (inputs: AsyncIterable<unknown> | Iterable<unknown>, callOptions?: CallOptions) =>
        callClientStream(bus, contract, name, inputs, callOptions, defaults);
    } else {
      // Resolved once here, not on every call (subject, codecs, retry policy, headers).
      const prepared = prepareMethod(contract, name, defaults);
      client[name] = (input: unknown, callOptions?: CallOptions) => callPrepared(bus, prepared, input, callOptions);
    }
  }
  return Object.freeze(client) as ServiceClient<C>;
}
