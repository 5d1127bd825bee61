import { connect } from '../client/connect.js';
import type { Bus } from '../client/bus.js';
import type { ConnectOptions } from '../client/options.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { defaultUrl } from '../transports/index.js';

/** URL schemes served by a backend adapter instead of the embedded protocol. */
const BACKEND_SCHEMES = ['nats'] as const;

/**
 * Connect to any Plexus target and get the core {@link Bus}: the embedded broker's
 * `Connection` for Plexus URLs (`unix://`, `tcp://`, …), a backend adapter for
 * `nats://`. Change the URL, not the code; see docs/backends.md for what each backend
 * can and cannot give. With no URL: `PLEXUS_URL`, else the per-user default socket.
 */
export async function connectBus(url?: string | readonly string[], options: ConnectOptions = {}): Promise<Bus> {
  const urls = url === undefined ? [defaultUrl()] : typeof url === 'string' ? [url] : [...url];
  const schemes = new Set(urls.map((u) => schemeOf(u)));
  const backend = BACKEND_SCHEMES.find((s) => schemes.has(s));
  if (backend === undefined) return connect(urls, options);
  if (schemes.size > 1) {
    throw new PlexusError(ErrorCode.INVALID_URL, `cannot mix ${backend}:// with other schemes in one connection: ${urls.join(', ')}`);
  }
  // Loaded on demand: the adapter pulls in the optional backend client.
  const { connectNats } = await import('./nats/index.js');
  return connectNats(urls, options);
}

function schemeOf(url: string): string {
  const i = url.indexOf('://');
  return i < 0 ? '' : url.slice(0, i).toLowerCase();
}
