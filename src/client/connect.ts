import { defaultTransports, defaultUrl, dial } from '../transports/index.js';
import { openConnection, type Connection } from './connection.js';
import type { ConnectOptions } from './options.js';

/**
 * Connect to a broker. With no URL: `PLEXUS_URL`, else the per-user default socket.
 * Several URLs are tried in turn (and rotated through when reconnecting).
 *
 * ```ts
 * const bus = await connect('tcp://127.0.0.1:4850');
 * bus.publish('greet', 'hello');
 * ```
 */
export async function connect(url?: string | readonly string[], options: ConnectOptions = {}): Promise<Connection> {
  const urls = url === undefined ? [defaultUrl()] : typeof url === 'string' ? [url] : [...url];
  const table = options.transports ?? defaultTransports;
  return openConnection(urls, options, (address, dialOptions) => dial(address, dialOptions, table));
}
