import type { SecureContextOptions, TlsOptions, ConnectionOptions } from 'node:tls';
import type { ByteChannel } from './channel.js';
import type { InprocHub } from './inproc.js';

/** A bound listener. */
export interface Listener {
  /** The address it is reachable at, with the real port when 0 was asked for. */
  readonly url: string;
  /**
   * Stop accepting. Settles as soon as no new connection can arrive; connections already
   * accepted are not touched (nor waited for).
   */
  close(): Promise<void>;
}

/** Options a transport may use when dialing. */
export interface DialOptions {
  /** Give up connecting after this long. @default 5000 */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** TLS client options for `tls://` and `wss://` (ca, cert, key, servername, ...). */
  readonly tls?: ConnectionOptions;
  /** Hub for `inproc://`. @default the process-wide hub */
  readonly inproc?: InprocHub;
}

/** Options a transport may use when listening. */
export interface ListenOptions {
  /** TLS server options for `tls://` and `wss://`: cert and key required; `requestCert` + `ca` for mTLS. */
  readonly tls?: TlsOptions & SecureContextOptions;
  /** File mode of a Unix socket. @default 0o600 */
  readonly socketMode?: number;
  /** Hub for `inproc://`. @default the process-wide hub */
  readonly inproc?: InprocHub;
}

/** A transport: how to dial and listen for one URL scheme. */
export interface TransportFactory {
  dial(url: URL, options: DialOptions): Promise<ByteChannel>;
  listen(url: URL, options: ListenOptions, accept: (channel: ByteChannel) => void): Promise<Listener>;
}

/** Transports by URL scheme (with the trailing colon, as `URL.protocol` gives it). */
export type TransportTable = Readonly<Record<string, TransportFactory>>;
