import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, PlexusError } from '../errors/index.js';

/** Plexus's own default ports (chosen clear of NATS, AMQP, Redis, MQTT, SQL ports). */
export const DEFAULT_PORTS = { tcp: 4850, http: 4851, ws: 4852, tls: 4853 } as const;

/**
 * Parse an address like `unix:///tmp/p.sock`, `tcp://127.0.0.1:4850`, `ws://host:4852/`,
 * `stdio:` or `inproc://name`. Throws a coded error for anything else.
 */
export function parseAddress(address: string): URL {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new PlexusError(ErrorCode.INVALID_URL, `not a valid address: ${JSON.stringify(address)}`);
  }
  if ((url.protocol === 'tcp:' || url.protocol === 'tls:') && url.hostname === '') {
    throw new PlexusError(ErrorCode.INVALID_URL, `${address} needs a host, e.g. ${url.protocol}//127.0.0.1:${DEFAULT_PORTS.tcp}`);
  }
  if (url.port === '' && (url.protocol === 'ws:' || url.protocol === 'wss:')) {
    // WHATWG URL drops a port equal to the scheme default (80/443); remember an explicit
    // one so `ws://host:80` dials 80 rather than Plexus's own default.
    const m = /^wss?:\/\/(?:[^/@]*@)?(?:\[[^\]]*\]|[^/:]*):(\d+)/i.exec(address);
    if (m) explicitPorts.set(url, Number(m[1]));
  }
  if (url.protocol === 'unix:' && unixPath(url) === '') {
    throw new PlexusError(ErrorCode.INVALID_URL, `${address} needs a socket path, e.g. unix:///tmp/plexus.sock`);
  }
  return url;
}

/** The filesystem path of a `unix:` URL (Windows: the named pipe it maps to). */
export function unixPath(url: URL): string {
  const path = decodeURIComponent(url.host ? `/${url.host}${url.pathname}` : url.pathname);
  if (process.platform === 'win32') return toWindowsPipe(path);
  return path;
}

/** Map a socket path to a Windows named pipe: `\\.\pipe\` plus the path with separators flattened. */
export function toWindowsPipe(path: string): string {
  if (path.startsWith('\\\\.\\pipe\\')) return path;
  return `\\\\.\\pipe\\${path.replace(/^[/\\]+/, '').replace(/[/\\:]/g, '-')}`;
}

const explicitPorts = new WeakMap<URL, number>();

/** TCP port of a URL, defaulting per scheme. */
export function portOf(url: URL): number {
  if (url.port !== '') return Number(url.port);
  const explicit = explicitPorts.get(url);
  if (explicit !== undefined) return explicit;
  switch (url.protocol) {
    case 'ws:':
      return DEFAULT_PORTS.ws;
    case 'wss:':
      return DEFAULT_PORTS.ws;
    case 'tls:':
      return DEFAULT_PORTS.tls;
    default:
      return DEFAULT_PORTS.tcp;
  }
}

/** Host of a URL without IPv6 brackets. */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/**
 * The per-user default socket a client looks for when given no URL and no PLEXUS_URL:
 * `$XDG_RUNTIME_DIR/plexus.sock`, else `~/.plexus/plexus.sock`, else in the temp dir.
 */
export function defaultSocketPath(): string {
  const runtime = process.env['XDG_RUNTIME_DIR'];
  if (runtime) return join(runtime, 'plexus.sock');
  const home = homedir();
  if (home) return join(home, '.plexus', 'plexus.sock');
  return join(tmpdir(), `plexus-${process.getuid?.() ?? 'user'}.sock`);
}

/** The URL a client dials when none is given. */
export function defaultUrl(): string {
  const fromEnv = process.env['PLEXUS_URL'];
  if (fromEnv) return fromEnv;
  return `unix://${defaultSocketPath()}`;
}
