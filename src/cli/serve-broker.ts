/**
 * Starting a broker from the command line (`plexus up`, `plexus broker`): the default
 * addresses, and a bind failure turned into advice that names the flag to change.
 */
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_PORTS, ErrorCode, PlexusError, defaultSocketPath, startBroker, type PlexusServer, type ServerOptions } from '../index.js';

/** The addresses `plexus up` and `plexus broker` listen on when given no --listen. */
export function defaultListen(): string[] {
  // On Windows the unix:// path maps to a named pipe, the same one clients dial by default.
  return [`unix://${defaultSocketPath()}`, `tcp://127.0.0.1:${DEFAULT_PORTS.tcp}`];
}

export const DEFAULT_HTTP = `http://127.0.0.1:${DEFAULT_PORTS.http}`;

/**
 * Where `plexus up` and `plexus broker` keep durable data when given no --data-dir:
 * $PLEXUS_DATA_DIR, else the per-user state directory ($XDG_STATE_HOME/plexus,
 * ~/.local/state/plexus; %LOCALAPPDATA%\plexus on Windows).
 */
export function defaultDataDir(): string {
  const env = process.env;
  if (env['PLEXUS_DATA_DIR']) return env['PLEXUS_DATA_DIR'];
  if (process.platform === 'win32' && env['LOCALAPPDATA']) return join(env['LOCALAPPDATA'], 'plexus');
  if (env['XDG_STATE_HOME']) return join(env['XDG_STATE_HOME'], 'plexus');
  const home = homedir();
  if (home) return join(home, '.local', 'state', 'plexus');
  return join(tmpdir(), `plexus-data-${process.getuid?.() ?? 'user'}`);
}

/** `startBroker`, with EADDRINUSE and friends reported against the flag that chose the address. */
export async function startBrokerFromFlags(options: ServerOptions): Promise<PlexusServer> {
  try {
    return await startBroker(options);
  } catch (err) {
    throw explainListenError(err, options);
  }
}

function portOfAddress(address: string): number | undefined {
  try {
    const u = new URL(address);
    if (u.port !== '') return Number(u.port);
    return u.protocol === 'http:' ? DEFAULT_PORTS.http : u.protocol === 'tls:' ? DEFAULT_PORTS.tls : u.protocol.startsWith('ws') ? DEFAULT_PORTS.ws : DEFAULT_PORTS.tcp;
  } catch {
    return undefined;
  }
}

function explainListenError(err: unknown, options: ServerOptions): unknown {
  if (err instanceof PlexusError) {
    if (err.code === ErrorCode.STORE_LOCKED && options.durable) {
      return new PlexusError(ErrorCode.STORE_LOCKED, `${err.message} — the data directory ${options.durable.dir} belongs to another running broker; stop it, or choose another with --data-dir DIR (or run without durable messaging: --no-durable)`, { cause: err });
    }
    if (err.code === ErrorCode.CONFIG && /already listening on/.test(err.message)) {
      return new PlexusError(
        ErrorCode.CONFIG,
        `${err.message} (another \`plexus up\` or broker?) — stop it, or choose another socket with --listen unix:///path/to/other.sock`,
        { cause: err },
      );
    }
  }
  // The transport may hand back the bind error itself or a PlexusError wrapping it.
  const e = (err instanceof PlexusError ? err.cause : err) as (NodeJS.ErrnoException & { port?: number; address?: string }) | undefined;
  if (!e || typeof e !== 'object') return err;
  if (e.code !== 'EADDRINUSE' && e.code !== 'EACCES' && e.code !== 'EADDRNOTAVAIL') return err;
  const httpHit = options.http !== undefined && e.port !== undefined && portOfAddress(options.http) === e.port;
  const listenHit = options.listen.find((a) => e.port !== undefined && portOfAddress(a) === e.port && !a.startsWith('unix:'));
  const flagName = httpHit && !listenHit ? '--http' : (listenHit && !httpHit) || e.port === undefined ? '--listen' : '--listen or --http';
  const where = httpHit && !listenHit ? options.http! : listenHit ?? `${e.address ?? ''}${e.port !== undefined ? `:${e.port}` : ''}`;
  const why =
    e.code === 'EADDRINUSE'
      ? `${e.port !== undefined ? `port ${e.port}` : 'the address'} is already in use (another \`plexus up\` or broker, or some other program)`
      : e.code === 'EACCES'
        ? `permission denied for port ${e.port}`
        : `address ${e.address} is not available on this machine`;
  const example = flagName === '--http' ? 'http://127.0.0.1:0' : e.port === undefined ? 'unix:///path/to/other.sock' : 'tcp://127.0.0.1:0';
  return new PlexusError(ErrorCode.CONFIG, `cannot listen on ${where}: ${why}; choose another with ${flagName} (e.g. ${flagName.split(' ')[0]} ${example}${e.port === undefined ? '' : ' for any free port'}${flagName === '--listen' ? '; repeat --listen for every address you want, it replaces the defaults' : ''})`, {
    cause: err,
  });
}

/** Lines describing where a broker can be reached. */
export function describeBroker(broker: PlexusServer): string[] {
  const lines = broker.urls.map((u) => `  ${u}`);
  if (broker.httpUrl) lines.push(`  ${broker.httpUrl}/status  (monitor; also /metrics)`);
  if (broker.durable) lines.push(`  durable data (streams, queues, mailboxes, KV) in ${broker.durable.dir}`);
  return lines;
}
