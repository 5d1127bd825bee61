/**
 * The seam between the patterns (queue, mailbox, KV, lock, …) and the backends (S18):
 * a backend adapter returned by `connectBus` (nats://, amqp://, redis://) carries a
 * {@link PatternProvider} under the {@link PATTERN_PROVIDER} symbol, and the pattern
 * functions (`queue(bus, 'hello')`, `kv(bus, 'sessions')`, …) hand the call to it. The
 * embedded broker's `Connection` has no provider: the patterns talk to its durable
 * service directly. A pattern a backend cannot give is absent from its provider, and the
 * pattern function throws PLEXUS_ERR_NOT_SUPPORTED with the backend's reason — never a
 * silent fallback. See docs/backends.md.
 */
import type { Bus } from '../client/bus.js';
import { Connection } from '../client/connection.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import type { KvBucket, KvOptions } from './kv.js';
import type { Lock, LockOptions } from './lock.js';
import type { Mailbox } from './mailbox.js';
import type { QueueOptions } from './queue-core.js';
import type { Queue } from './queue.js';

/** Where a backend adapter keeps its {@link PatternProvider}. */
export const PATTERN_PROVIDER: unique symbol = Symbol.for('plexus.patterns');

/** The patterns a backend gives natively. Each member is optional: absent means not given. */
export interface PatternProvider {
  /** The backend's name, used in errors (`nats`, `amqp`, `redis`). */
  readonly backend: string;
  /** Why a pattern that is absent is not given, by pattern name (`queue`, `kv`, …). */
  readonly unsupported?: Readonly<Record<string, string>>;
  queue?(name: string, options: QueueOptions): Queue;
  listQueues?(): Promise<string[]>;
  mailbox?(owner: string, options: QueueOptions): Mailbox;
  kv?(name: string, options: KvOptions): KvBucket;
  lock?(name: string, options: LockOptions): Lock;
}

/** A `Bus` whose backend gives patterns of its own. */
export interface PatternBus extends Bus {
  readonly [PATTERN_PROVIDER]: PatternProvider;
}

/** What a pattern function does with `bus`: the embedded connection, or the backend's own implementation. */
export type PatternTarget<K extends keyof PatternProvider> =
  | { readonly kind: 'embedded'; readonly conn: Connection }
  | { readonly kind: 'backend'; readonly impl: NonNullable<PatternProvider[K]> };

/**
 * Resolve `bus` for `pattern`: the embedded `Connection`, or the backend provider's
 * method bound to it. Throws PLEXUS_ERR_NOT_SUPPORTED when the backend does not give
 * the pattern, and PLEXUS_ERR_INVALID_ARGUMENT for something that is not a Plexus bus.
 */
export function patternTarget<K extends 'queue' | 'listQueues' | 'mailbox' | 'kv' | 'lock'>(bus: Bus, pattern: K): PatternTarget<K> {
  if (bus instanceof Connection) return { kind: 'embedded', conn: bus };
  const provider = (bus as Partial<PatternBus> | null)?.[PATTERN_PROVIDER];
  if (provider === undefined) {
    throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `${pattern}() needs a bus from connect() or connectBus()`);
  }
  const method = provider[pattern];
  if (typeof method !== 'function') {
    const kind = pattern === 'listQueues' ? 'queue' : pattern;
    const why = provider.unsupported?.[kind] ?? `the ${provider.backend} backend has no ${kind} support`;
    throw new PlexusError(ErrorCode.NOT_SUPPORTED, `${kind} is not supported by ${provider.backend}: ${why}`, { details: { backend: provider.backend, pattern: kind } });
  }
  return { kind: 'backend', impl: method.bind(provider) as NonNullable<PatternProvider[K]> };
}

/** The embedded connection behind `bus` for a pattern only the embedded broker gives (semaphore, barrier, condvar). */
export function embeddedOnly(bus: Bus, pattern: string): Connection {
  if (bus instanceof Connection) return bus;
  const provider = (bus as Partial<PatternBus> | null)?.[PATTERN_PROVIDER];
  const backend = provider?.backend ?? 'this bus';
  const why = provider?.unsupported?.[pattern] ?? 'it is served by the embedded broker\'s durable service only';
  throw new PlexusError(ErrorCode.NOT_SUPPORTED, `${pattern} is not supported by ${backend}: ${why}`, { details: { backend, pattern } });
}
