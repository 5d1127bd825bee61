import type { TlsOptions, SecureContextOptions } from 'node:tls';
import type { InprocHub, TransportTable } from '../transports/index.js';
import type { AuthConfig } from './auth.js';
import type { RegistryOptions } from './registry.js';

/** What the broker does when a connection cannot keep up with what is sent to it. */
export type SlowConsumerPolicy = 'block' | 'disconnect' | 'drop';

/** Broker configuration. Every limit has a documented default (docs/broker.md). */
export interface BrokerOptions {
  /**
   * Addresses to listen on (`unix://`, `tcp://`, `tls://`, `ws://`, `wss://`, `inproc://`,
   * `stdio:`, `shm://`). May be empty for a broker fed only through `accept()` (a child's
   * stdio, a worker's port).
   */
  readonly listen: readonly string[];
  /** Serve `/metrics` and `/status` on this `http://127.0.0.1:PORT` address; omit for none. */
  readonly http?: string;
  /** Users, tokens and permissions; omit to let everyone in as `anonymous`. */
  readonly auth?: AuthConfig;
  /** TLS server options for `tls://` and `wss://` listeners. */
  readonly tls?: TlsOptions & SecureContextOptions;
  /** Largest message payload accepted. @default 1048576 (1 MiB) */
  readonly maxPayloadBytes?: number;
  /** Outbound bytes queued for one connection before it counts as slow. @default 67108864 (64 MiB) */
  readonly maxPendingBytes?: number;
  /**
   * `block` (default): stop reading from publishers that feed a slow connection until it
   * drains; if it is still slow after `writeDeadlineMs` it is disconnected.
   * `disconnect`: disconnect it at once. `drop`: drop messages for it and count them.
   * Every case publishes an advisory on `$SYS.ADVISORY.SLOW_CONSUMER`.
   */
  readonly slowConsumer?: SlowConsumerPolicy;
  /** How long a connection may stay above `maxPendingBytes`. @default 5000 */
  readonly writeDeadlineMs?: number;
  /** @default 10000 */
  readonly maxConnections?: number;
  /** @default 65536 */
  readonly maxSubscriptionsPerConnection?: number;
  /** Time allowed between connect and a valid HELLO. @default 5000 */
  readonly authTimeoutMs?: number;
  /** Ping interval; a peer silent for 3 intervals is dropped. @default 5000 */
  readonly heartbeatMs?: number;
  /** Requests tracked per connection for cancellation and responder-gone errors. @default 65536 */
  readonly maxTrackedRequestsPerConnection?: number;
  /** Unix socket file mode. @default 0o600 */
  readonly socketMode?: number;
  /** Transport table. @default defaultTransports */
  readonly transports?: TransportTable;
  /** Hub for `inproc://` listeners. @default the process-wide hub */
  readonly inproc?: InprocHub;
  /** Server name reported in WELCOME and /status. @default random */
  readonly serverId?: string;
  /** Service registry limits (docs/discovery.md). */
  readonly registry?: RegistryOptions;
}

/** Options after defaults are applied. */
export interface ResolvedBrokerOptions {
  readonly maxPayloadBytes: number;
  readonly maxPendingBytes: number;
  readonly slowConsumer: SlowConsumerPolicy;
  readonly writeDeadlineMs: number;
  readonly maxConnections: number;
  readonly maxSubscriptionsPerConnection: number;
  readonly authTimeoutMs: number;
  readonly heartbeatMs: number;
  readonly maxTrackedRequestsPerConnection: number;
  readonly maxFrameBytes: number;
}

/** Apply defaults and check ranges once. */
export function resolveBrokerOptions(o: BrokerOptions): ResolvedBrokerOptions {
  const maxPayloadBytes = positive('maxPayloadBytes', o.maxPayloadBytes ?? 1024 * 1024, 64 * 1024 * 1024);
  return {
    maxPayloadBytes,
    maxPendingBytes: positive('maxPendingBytes', o.maxPendingBytes ?? 64 * 1024 * 1024, 2 ** 40),
    slowConsumer: o.slowConsumer ?? 'block',
    writeDeadlineMs: positive('writeDeadlineMs', o.writeDeadlineMs ?? 5000, 3_600_000),
    maxConnections: positive('maxConnections', o.maxConnections ?? 10_000, 1_000_000),
    maxSubscriptionsPerConnection: positive('maxSubscriptionsPerConnection', o.maxSubscriptionsPerConnection ?? 65_536, 10_000_000),
    authTimeoutMs: positive('authTimeoutMs', o.authTimeoutMs ?? 5000, 3_600_000),
    heartbeatMs: positive('heartbeatMs', o.heartbeatMs ?? 5000, 3_600_000),
    maxTrackedRequestsPerConnection: positive('maxTrackedRequestsPerConnection', o.maxTrackedRequestsPerConnection ?? 65_536, 10_000_000),
    // Room for the largest payload plus three 16-bit fields and the fixed header.
    maxFrameBytes: maxPayloadBytes + 3 * 0xffff + 20,
  };
}

function positive(name: string, v: number, max: number): number {
  if (!Number.isFinite(v) || v <= 0 || v > max) throw new RangeError(`${name} must be in (0, ${max}], got ${v}`);
  return v;
}
