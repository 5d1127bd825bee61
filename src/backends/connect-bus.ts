import { connect } from '../client/connect.js';
import type { Bus } from '../client/bus.js';
import type { ConnectOptions } from '../client/options.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { defaultUrl } from '../transports/index.js';

/** Opens a backend adapter for the given URLs (all of its scheme). */
type AdapterLoader = (urls: string[], options: ConnectOptions) => Promise<Bus>;

/**
 * URL schemes served by a backend adapter instead of the embedded protocol. Each adapter
 * is loaded on demand: it pulls in its optional backend client package.
 */
const ADAPTERS: Readonly<Record<string, AdapterLoader>> = {
  nats: async (urls, options) => (await import('./nats/index.js')).connectNats(urls, options),
  amqp: async (urls, options) => (await import('./amqp/index.js')).connectAmqp(urls, options),
  amqps: async (urls, options) => (await import('./amqp/index.js')).connectAmqp(urls, options),
  redis: async (urls, options) => (await import('./redis/index.js')).connectRedis(urls, options),
  rediss: async (urls, options) => (await import('./redis/index.js')).connectRedis(urls, options),
  mqtt: async (urls, options) => (await import('./mqtt/index.js')).connectMqtt(urls, options),
  mqtts: async (urls, options) => (await import('./mqtt/index.js')).connectMqtt(urls, options),
};

/**
 * Connect to any Plexus target and get the core {@link Bus}: the embedded broker's
 * `Connection` for Plexus URLs (`unix://`, `tcp://`, …), a backend adapter for
 * `nats://` (and the other schemes in docs/backends.md). Change the URL, not the code;
 * see docs/backends.md for what each backend can and cannot give. With no URL:
 * `PLEXUS_URL`, else the per-user default socket.
 */
export async function connectBus(url?: string | readonly string[], options: ConnectOptions = {}): Promise<Bus> {
  const urls = url === undefined ? [defaultUrl()] : typeof url === 'string' ? [url] : [...url];
  const schemes = new Set(urls.map((u) => schemeOf(u)));
  const backend = [...schemes].find((s) => Object.hasOwn(ADAPTERS, s));
  if (backend === undefined) return connect(urls, options);
  if (schemes.size > 1) {
    throw new PlexusError(ErrorCode.INVALID_URL, `cannot mix ${backend}:// with other schemes in one connection: ${urls.join(', ')}`);
  }
  return ADAPTERS[backend]!(urls, options);
}

/** The URL's scheme, lower case (`rediss` and `amqps` are their own schemes). */
function schemeOf(url: string): string {
  const i = url.indexOf('://');
  return i < 0 ? '' : url.slice(0, i).toLowerCase();
}
