import type { ChannelModel, Options } from 'amqplib';
import { ErrorCode, PlexusError } from '../../errors/index.js';
import type { ConnectOptions } from '../../client/options.js';
import { resolveConnectOptions } from '../../client/options.js';
import { withTimeout } from '../common/checks.js';
import { loadBackendClient } from '../load.js';
import { AmqpBus } from './bus.js';

export { AmqpBus } from './bus.js';

interface AmqpClient {
  connect(url: string | Options.Connect, socketOptions?: unknown): Promise<ChannelModel>;
}

/**
 * Connect to RabbitMQ (`amqp://user:pass@host:port/vhost`, or `amqps://`) and return a
 * `Bus`. Loads the optional `amqplib` package on first use. The sender identity is the
 * login user (`user` option, else the URL's user, else `guest`), sent as the AMQP
 * `user_id` property, which RabbitMQ refuses unless it matches the connection's login.
 */
export async function connectAmqp(urls: readonly string[], options: ConnectOptions = {}): Promise<AmqpBus> {
  const o = resolveConnectOptions(options);
  if (options.transports !== undefined || options.inproc !== undefined) {
    throw new PlexusError(ErrorCode.NOT_SUPPORTED, 'transports/inproc options are not supported by amqp: amqplib dials by itself');
  }
  if (urls.length !== 1) {
    throw new PlexusError(ErrorCode.NOT_SUPPORTED, 'amqp:// takes one URL: amqplib connects to one RabbitMQ node (use a load balancer for a cluster)');
  }
  options.signal?.throwIfAborted();
  const amqp = await loadBackendClient<AmqpClient>('amqplib', 'amqp');
  const url = new URL(urls[0]!);
  if (options.user !== undefined) url.username = encodeURIComponent(options.user);
  if (options.pass !== undefined) url.password = encodeURIComponent(options.pass);
  const identity = decodeURIComponent(url.username) || 'guest';
  const dial = async (): Promise<ChannelModel> => {
    let gaveUp = false;
    const dialing = amqp.connect(url.toString(), { timeout: o.timeoutMs, ...(options.tls ?? {}) });
    // A connection that opens after we gave up is closed, not leaked.
    dialing.then((m) => (gaveUp ? m.close() : undefined)).catch(() => undefined);
    try {
      return await withTimeout(dialing, o.timeoutMs, 'connect');
    } catch (err) {
      gaveUp = true;
      throw err;
    }
  };
  let model: ChannelModel;
  try {
    model = await dial();
  } catch (err) {
    const text = (err as Error).message ?? String(err);
    if (/ACCESS_REFUSED|403/.test(text)) throw new PlexusError(ErrorCode.AUTH_FAILED, `RabbitMQ refused the login: ${text}`, { cause: err });
    throw new PlexusError(ErrorCode.CONNECT_FAILED, `could not connect to ${redact(url)}: ${text}`, { cause: err });
  }
  try {
    const channel = await model.createChannel();
    const props = model.connection.serverProperties;
    const bus = new AmqpBus({
      model,
      channel,
      identity,
      serverId: `${String(props.product ?? 'RabbitMQ')} ${String(props.version ?? '')}`.trim(),
      requestTimeoutMs: o.requestTimeoutMs,
      ...(o.reconnect
        ? { redial: { dial, delayMs: o.reconnectDelayMs, maxDelayMs: o.maxReconnectDelayMs, maxAttempts: o.maxReconnectAttempts } }
        : {}),
    });
    await bus.start();
    if (options.signal?.aborted) {
      await bus.close();
      throw options.signal.reason;
    }
    return bus;
  } catch (err) {
    await model.close().catch(() => undefined);
    throw err;
  }
}

/** The URL without its password, for error messages. */
function redact(url: URL): string {
  const copy = new URL(url.toString());
  if (copy.password) copy.password = '***';
  return copy.toString();
}
