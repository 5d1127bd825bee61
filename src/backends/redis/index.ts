import type { Redis, RedisOptions } from 'ioredis';
import { ErrorCode, PlexusError } from '../../errors/index.js';
import type { ConnectOptions } from '../../client/options.js';
import { resolveConnectOptions } from '../../client/options.js';
import { loadBackendClient } from '../load.js';
import { withTimeout } from '../common/checks.js';
import { RedisBus } from './bus.js';

export { RedisBus } from './bus.js';

type IoRedisModule = { Redis: new (url: string, options: RedisOptions) => Redis };

/** Redis error replies that mean the credentials were refused. */
const AUTH_REPLIES = new Set(['WRONGPASS', 'NOAUTH', 'NOPERM']);

/** Longest pause between reconnect attempts. */
const MAX_RECONNECT_DELAY_MS = 2000;

/**
 * Connect to Redis (`redis://[user:pass@]host:port[/db]`, `rediss://` for TLS) and return
 * a `Bus`. Loads the optional `ioredis` package on first use. Opens two Redis
 * connections (commands, subscriber). ioredis's offline queue is off on the command
 * connection, so nothing is reported sent unless Redis replied: a publish while
 * reconnecting fails (to 'error' listeners) instead of piling up in memory. The sender
 * identity carried on messages is `user`, else `name`, else `anonymous`, asserted by
 * this client.
 */
export async function connectRedis(urls: readonly string[], options: ConnectOptions = {}): Promise<RedisBus> {
  const o = resolveConnectOptions(options);
  if (options.transports !== undefined || options.inproc !== undefined) {
    throw new PlexusError(ErrorCode.NOT_SUPPORTED, 'transports/inproc options are not supported by redis: ioredis dials by itself');
  }
  if (urls.length !== 1) {
    throw new PlexusError(ErrorCode.NOT_SUPPORTED, `redis:// takes one server URL (Redis Cluster and Sentinel are not supported), got ${urls.length}`);
  }
  options.signal?.throwIfAborted();
  const { Redis: RedisClient } = await loadBackendClient<IoRedisModule>('ioredis', 'redis');
  const url = urls[0]!;
  const base: RedisOptions = {
    lazyConnect: true,
    connectTimeout: o.timeoutMs,
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => {
      if (!o.reconnect || times > o.maxReconnectAttempts) return null;
      const delay = Math.min(o.reconnectDelayMs * 2 ** Math.min(times - 1, 10), MAX_RECONNECT_DELAY_MS);
      return Math.round(delay * (0.5 + Math.random() / 2));
    },
    ...(options.name !== undefined ? { connectionName: options.name } : {}),
    ...(options.user !== undefined ? { username: options.user } : {}),
    ...(options.pass !== undefined || options.token !== undefined ? { password: options.pass ?? options.token } : {}),
    ...(url.toLowerCase().startsWith('rediss://') ? { tls: { ...(options.tls ?? {}) } } : {}),
  };
  // Commands: no offline queue, so a command is only "done" when Redis answered it.
  const cmd = new RedisClient(url, { ...base, enableOfflineQueue: false });
  // Subscriber: ioredis re-subscribes after a reconnect; a (un)subscribe issued while
  // reconnecting waits in its offline queue (bounded by the subscriptions made).
  const sub = new RedisClient(url, { ...base, enableOfflineQueue: true, autoResubscribe: true });
  for (const r of [cmd, sub]) r.on('error', () => undefined);
  try {
    await withTimeout(Promise.all([cmd.connect(), sub.connect()]), o.timeoutMs, 'connect');
    const bus = new RedisBus(cmd, sub, options.user ?? options.name ?? 'anonymous', o.requestTimeoutMs);
    await withTimeout(bus.start(), o.timeoutMs, 'subscribing the reply inbox');
    if (options.signal?.aborted) {
      await bus.close();
      throw options.signal.reason;
    }
    return bus;
  } catch (err) {
    cmd.disconnect();
    sub.disconnect();
    if ((err instanceof PlexusError && err.code !== ErrorCode.TIMEOUT) || options.signal?.aborted) throw err;
    const text = err instanceof Error ? err.message : String(err);
    // A Redis error reply starts with its error code (WRONGPASS, NOAUTH, ...).
    if (AUTH_REPLIES.has(text.split(' ')[0] ?? '')) throw new PlexusError(ErrorCode.AUTH_FAILED, `Redis: ${text}`, { cause: err });
    throw new PlexusError(ErrorCode.CONNECT_FAILED, `could not connect to ${redact(url)}: ${text}`, { cause: err });
  }
}

/** The URL without its password, for error messages. */
function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
