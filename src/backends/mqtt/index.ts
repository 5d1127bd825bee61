import { randomBytes } from 'node:crypto';
import type { IClientOptions, MqttClient } from 'mqtt';
import { ErrorCode, PlexusError } from '../../errors/index.js';
import type { ConnectOptions } from '../../client/options.js';
import { resolveConnectOptions } from '../../client/options.js';
import { loadBackendClient } from '../load.js';
import { withTimeout } from '../common/checks.js';
import { MqttBus } from './bus.js';

export { MqttBus } from './bus.js';

type MqttModule = { connect: (url: string, options: IClientOptions) => MqttClient };

/** CONNACK reason codes (MQTT 5) that mean the credentials were refused. */
const AUTH_REASONS = new Set([0x86, 0x87, 0x8c]);

/**
 * Connect to an MQTT 5 broker (`mqtt://[user:pass@]host:port`, `mqtts://` for TLS) and
 * return a `Bus`. Loads the optional `mqtt` package on first use. The session is clean
 * (nothing is kept for this client while it is away); mqtt.js reconnects by itself and
 * the adapter re-subscribes. The sender identity carried on messages is `user`, else
 * `name`, else `anonymous`, asserted by this client (MQTT stamps nothing).
 */
export async function connectMqtt(urls: readonly string[], options: ConnectOptions = {}): Promise<MqttBus> {
  const o = resolveConnectOptions(options);
  if (options.transports !== undefined || options.inproc !== undefined) {
    throw new PlexusError(ErrorCode.NOT_SUPPORTED, 'transports/inproc options are not supported by mqtt: mqtt.js dials by itself');
  }
  if (urls.length !== 1) {
    throw new PlexusError(ErrorCode.NOT_SUPPORTED, `mqtt:// takes one server URL, got ${urls.length}`);
  }
  options.signal?.throwIfAborted();
  const mqtt = await loadBackendClient<MqttModule>('mqtt', 'mqtt');
  const url = urls[0]!;
  const client = mqtt.connect(url, {
    protocolVersion: 5,
    clean: true,
    clientId: `plexus_${randomBytes(8).toString('hex')}`,
    connectTimeout: o.timeoutMs,
    // mqtt.js retries at a fixed period; the adapter stops it after maxReconnectAttempts.
    reconnectPeriod: o.reconnect ? Math.max(o.reconnectDelayMs, 100) : 0,
    // The adapter re-subscribes itself, with its subscription identifiers.
    resubscribe: false,
    ...(options.user !== undefined ? { username: options.user } : {}),
    ...(options.pass !== undefined || options.token !== undefined ? { password: options.pass ?? options.token } : {}),
    ...(url.toLowerCase().startsWith('mqtts://') ? { ...(options.tls ?? {}) } : {}),
  } as IClientOptions);
  client.on('error', () => undefined);
  try {
    await withTimeout(firstConnect(client), o.timeoutMs, 'connect');
    const bus = new MqttBus(client, options.user ?? options.name ?? 'anonymous', o.requestTimeoutMs);
    watchReconnects(client, bus, o.reconnect ? o.maxReconnectAttempts : 0);
    await withTimeout(bus.start(), o.timeoutMs, 'subscribing the reply inbox');
    if (options.signal?.aborted) {
      await bus.close();
      throw options.signal.reason;
    }
    return bus;
  } catch (err) {
    client.end(true);
    if ((err instanceof PlexusError && err.code !== ErrorCode.TIMEOUT) || options.signal?.aborted) throw err;
    const text = err instanceof Error ? err.message : String(err);
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'number' && AUTH_REASONS.has(code)) throw new PlexusError(ErrorCode.AUTH_FAILED, `MQTT: ${text}`, { cause: err });
    throw new PlexusError(ErrorCode.CONNECT_FAILED, `could not connect to ${url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@')}: ${text}`, { cause: err });
  }
}

/** Resolves on the first CONNACK; rejects on the first error (refused, unreachable). */
function firstConnect(client: MqttClient): Promise<void> {
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
}

/** Close the bus with PLEXUS_ERR_CONNECTION_LOST once `max` reconnect attempts in a row failed. */
function watchReconnects(client: MqttClient, bus: MqttBus, max: number): void {
  let attempts = 0;
  client.on('connect', () => (attempts = 0));
  const giveUp = (): void => {
    client.end(true);
    bus.lost(new PlexusError(ErrorCode.CONNECTION_LOST, `MQTT connection lost: gave up after ${attempts} reconnect attempts`));
  };
  client.on('reconnect', () => {
    if (++attempts > max) giveUp();
  });
  client.on('close', () => {
    if (max === 0 && bus.status !== 'closed') giveUp();
  });
}
