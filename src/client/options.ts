import { ErrorCode, PlexusError } from '../errors/index.js';
import type { ConnectionOptions } from 'node:tls';
import type { InprocHub, TransportTable } from '../transports/index.js';

/** Options for `connect`. */
export interface ConnectOptions {
  /** Client name shown in the broker's /status. */
  readonly name?: string;
  /** Bearer token. */
  readonly token?: string;
  readonly user?: string;
  readonly pass?: string;
  /** TLS client options for `tls://` and `wss://` (ca, cert, key for mTLS, ...). */
  readonly tls?: ConnectionOptions;
  /** Time to dial and complete the handshake. @default 5000 */
  readonly timeoutMs?: number;
  /** Reconnect after a lost connection. @default true */
  readonly reconnect?: boolean;
  /** Give up after this many failed attempts in a row. @default Infinity */
  readonly maxReconnectAttempts?: number;
  /** First reconnect delay; doubles per attempt with jitter. @default 50 */
  readonly reconnectDelayMs?: number;
  /** @default 2000 */
  readonly maxReconnectDelayMs?: number;
  /** Bytes of publishes held while reconnecting; past it `publish` throws PLEXUS_ERR_RECONNECT_BUFFER_FULL. @default 8 MiB */
  readonly reconnectBufferBytes?: number;
  /** Outbound bytes queued before `publish` throws PLEXUS_ERR_OUTBOUND_BUFFER_FULL. @default 64 MiB */
  readonly maxOutboundBytes?: number;
  /** Default request timeout. @default 10000 */
  readonly requestTimeoutMs?: number;
  /** Ping interval; the broker's WELCOME value is used when omitted. A silent link is dropped after 3. */
  readonly heartbeatMs?: number;
  /** Largest inbound frame accepted from the broker. @default 64 MiB + 192 KiB */
  readonly maxFrameBytes?: number;
  /** Transport table. @default defaultTransports */
  readonly transports?: TransportTable;
  /** Hub for `inproc://`. @default the process-wide hub */
  readonly inproc?: InprocHub;
  readonly signal?: AbortSignal;
}

/** Options after defaults. */
export interface ResolvedConnectOptions {
  readonly timeoutMs: number;
  readonly reconnect: boolean;
  readonly maxReconnectAttempts: number;
  readonly reconnectDelayMs: number;
  readonly maxReconnectDelayMs: number;
  readonly reconnectBufferBytes: number;
  readonly maxOutboundBytes: number;
  readonly requestTimeoutMs: number;
  readonly heartbeatMs: number | undefined;
  readonly maxFrameBytes: number;
}

export function resolveConnectOptions(o: ConnectOptions): ResolvedConnectOptions {
  // Timers above 2^31-1 ms fire at once in Node, so every time is capped below that.
  const MAX_MS = 0x7fffffff;
  return {
    timeoutMs: range('timeoutMs', o.timeoutMs ?? 5000, 1, MAX_MS),
    reconnect: o.reconnect ?? true,
    maxReconnectAttempts:
      (o.maxReconnectAttempts ?? Infinity) === Infinity ? Infinity : range('maxReconnectAttempts', o.maxReconnectAttempts!, 0, Number.MAX_SAFE_INTEGER),
    reconnectDelayMs: range('reconnectDelayMs', o.reconnectDelayMs ?? 50, 0, MAX_MS),
    maxReconnectDelayMs: range('maxReconnectDelayMs', o.maxReconnectDelayMs ?? 2000, 0, MAX_MS),
    reconnectBufferBytes: range('reconnectBufferBytes', o.reconnectBufferBytes ?? 8 * 1024 * 1024, 0, 2 ** 40),
    maxOutboundBytes: range('maxOutboundBytes', o.maxOutboundBytes ?? 64 * 1024 * 1024, 1, 2 ** 40),
    requestTimeoutMs: range('requestTimeoutMs', o.requestTimeoutMs ?? 10_000, 0, MAX_MS),
    heartbeatMs: o.heartbeatMs === undefined ? undefined : range('heartbeatMs', o.heartbeatMs, 1, MAX_MS / 3),
    maxFrameBytes: range('maxFrameBytes', o.maxFrameBytes ?? 64 * 1024 * 1024 + 3 * 0xffff + 20, 20, 2 ** 31),
  };
}

/** A finite number within [min, max], else a coded error naming the option. */
function range(name: string, v: number, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `${name} must be a number in [${min}, ${max}], got ${String(v)}`);
  }
  return v;
}
