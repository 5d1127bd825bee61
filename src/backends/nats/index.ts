import type { ConnectionOptions as NatsConnectOptions, NatsConnection } from 'nats';
import { ErrorCode, PlexusError } from '../../errors/index.js';
import type { ConnectOptions } from '../../client/options.js';
import { resolveConnectOptions } from '../../client/options.js';
import { loadBackendClient } from '../load.js';
import { NatsBus, fromNatsError, type NatsModule } from './bus.js';
import { NatsPatterns } from './patterns.js';

export { NatsBus } from './bus.js';

type NatsClient = NatsModule & { connect(opts: NatsConnectOptions): Promise<NatsConnection> };

/**
 * Connect to NATS (`nats://host:port`, several for a cluster) and return a `Bus`.
 * Loads the optional `nats` package on first use. The sender identity carried on
 * messages is `user`, else `name`, else `anonymous` — asserted by this client.
 */
export async function connectNats(urls: readonly string[], options: ConnectOptions = {}): Promise<NatsBus> {
  const o = resolveConnectOptions(options);
  if (options.transports !== undefined || options.inproc !== undefined) {
    throw new PlexusError(ErrorCode.NOT_SUPPORTED, 'transports/inproc options are not supported by nats: the nats client dials by itself');
  }
  options.signal?.throwIfAborted();
  const nats = await loadBackendClient<NatsClient>('nats', 'nats');
  let nc: NatsConnection;
  try {
    nc = await nats.connect({
      servers: [...urls],
      timeout: o.timeoutMs,
      reconnect: o.reconnect,
      maxReconnectAttempts: o.maxReconnectAttempts === Infinity ? -1 : o.maxReconnectAttempts,
      reconnectTimeWait: o.reconnectDelayMs,
      ...(options.name !== undefined ? { name: options.name } : {}),
      ...(options.token !== undefined ? { token: options.token } : {}),
      ...(options.user !== undefined ? { user: options.user } : {}),
      ...(options.pass !== undefined ? { pass: options.pass } : {}),
      ...(options.tls !== undefined ? { tls: options.tls as NatsConnectOptions['tls'] } : {}),
    });
  } catch (err) {
    const coded = fromNatsError(err);
    if (coded.code === ErrorCode.AUTH_FAILED) throw coded;
    throw new PlexusError(ErrorCode.CONNECT_FAILED, `could not connect to ${urls.join(', ')}: ${(err as Error).message}`, { cause: err });
  }
  if (nc.info?.headers !== true) {
    // Identity, deadlines, cancel notices and error replies all ride in headers.
    await nc.close();
    throw new PlexusError(ErrorCode.NOT_SUPPORTED, 'this NATS server does not support headers (nats-server 2.2 or later is needed)');
  }
  if (options.signal?.aborted) {
    await nc.close();
    throw options.signal.reason;
  }
  return new NatsBus(nc, nats, options.user ?? options.name ?? 'anonymous', o.requestTimeoutMs, new NatsPatterns(nc, nats));
}
