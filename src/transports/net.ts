import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { hostOf, portOf, unixPath } from './address.js';
import type { ByteChannel } from './channel.js';
import { StreamChannel } from './stream-channel.js';
import type { DialOptions, ListenOptions, Listener, TransportFactory } from './types.js';
import { peerCredentials, shmAvailability } from '../local/index.js';

function socketChannel(socket: net.Socket, kind: string, remote: string, certSubject?: string): ByteChannel {
  socket.setNoDelay?.(true);
  return new StreamChannel(socket, socket, certSubject === undefined ? { kind, remote } : { kind, remote, certSubject });
}

/**
 * The peer's uid/gid/pid on an accepted Unix socket, from the kernel (SO_PEERCRED via the
 * addon). Undefined when the addon is missing or the platform has no such option: the
 * connection then simply carries no peer credentials.
 */
function unixPeer(socket: net.Socket): { pid: number; uid: number; gid: number } | undefined {
  if (process.platform !== 'linux' || !shmAvailability().available) return undefined;
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return undefined;
  try {
    return peerCredentials(fd);
  } catch {
    return undefined;
  }
}

/** Wait for a socket to connect, bounded by a timeout and an AbortSignal. */
function awaitConnect(socket: net.Socket, event: string, url: URL, options: DialOptions): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 5000;
  return new Promise((resolve, reject) => {
    const signal = options.signal;
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off(event, onOk);
      socket.off('error', onErr);
      signal?.removeEventListener('abort', onAbort);
    };
    const fail = (err: PlexusError): void => {
      cleanup();
      socket.destroy();
      reject(err);
    };
    const onOk = (): void => {
      cleanup();
      resolve();
    };
    const onErr = (err: Error): void =>
      fail(new PlexusError(ErrorCode.CONNECT_FAILED, `cannot connect to ${url.href}: ${err.message}`, { cause: err }));
    const onAbort = (): void =>
      fail(new PlexusError(ErrorCode.CANCELLED, `connecting to ${url.href} was cancelled`, { cause: signal?.reason }));
    const timer = setTimeout(
      () => fail(new PlexusError(ErrorCode.CONNECT_FAILED, `connecting to ${url.href} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once(event, onOk);
    socket.once('error', onErr);
  });
}

function serverListener(server: net.Server, url: string, onClose?: () => Promise<void>): Listener {
  return {
    url,
    // Stop accepting at once. server.close()'s callback would wait until every accepted
    // connection has ended, which is not this method's job (and would hang a shutdown
    // that closes the listener before the connections).
    close: async () => {
      if (server.listening) server.close();
      await onClose?.();
    },
  };
}

/** Listen; a bind failure (address in use, no permission) becomes a coded config error. */
export function bind(server: net.Server, arg: net.ListenOptions, url: URL): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void =>
      reject(new PlexusError(ErrorCode.CONFIG, `cannot listen on ${url.href}: ${err.message}`, { cause: err }));
    server.once('error', onError);
    server.listen(arg, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** If a socket file exists but nobody answers on it, it is stale: remove it. */
async function clearStaleSocket(path: string): Promise<void> {
  try {
    const st = await lstat(path);
    if (!st.isSocket()) throw new PlexusError(ErrorCode.CONFIG, `${path} exists and is not a socket`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  // Only "connection refused" proves nobody listens. Anything else (EAGAIN from a full
  // backlog, EACCES, no answer) may be a live listener whose socket must not be deleted.
  const verdict = await new Promise<'alive' | 'stale' | 'unsure'>((resolve) => {
    const probe = net.connect(path);
    const done = (v: 'alive' | 'stale' | 'unsure'): void => {
      clearTimeout(timer);
      probe.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done('unsure'), 1000);
    probe.once('connect', () => done('alive'));
    probe.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' ? 'stale' : 'unsure'));
  });
  if (verdict === 'alive') throw new PlexusError(ErrorCode.CONFIG, `another process is already listening on ${path}`);
  if (verdict === 'unsure') throw new PlexusError(ErrorCode.CONFIG, `${path} exists and may be in use; remove it if it is stale`);
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/** `unix:///path.sock` — Unix domain sockets (named pipes on Windows). */
export const unixTransport: TransportFactory = {
  async dial(url, options) {
    const path = unixPath(url);
    const socket = net.connect(path);
    await awaitConnect(socket, 'connect', url, options);
    return socketChannel(socket, 'unix', path);
  },
  async listen(url, options: ListenOptions, accept) {
    const path = unixPath(url);
    if (process.platform !== 'win32') {
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      await clearStaleSocket(path);
    }
    const server = net.createServer((socket) => {
      socket.setNoDelay?.(true);
      const peer = unixPeer(socket);
      accept(new StreamChannel(socket, socket, peer ? { kind: 'unix', remote: path, peer } : { kind: 'unix', remote: path }));
    });
    await bind(server, { path }, url);
    // The socket is created under the umask (normally 0755, which already refuses other
    // users' connect); tighten to the configured mode at once.
    if (process.platform !== 'win32') await chmod(path, options.socketMode ?? 0o600);
    return serverListener(server, `unix://${path}`, async () => {
      if (process.platform !== 'win32') await unlink(path).catch(() => undefined);
    });
  },
};

/** `tcp://host:port`. */
export const tcpTransport: TransportFactory = {
  async dial(url, options) {
    const socket = net.connect({ host: hostOf(url), port: portOf(url) });
    await awaitConnect(socket, 'connect', url, options);
    return socketChannel(socket, 'tcp', `${socket.remoteAddress}:${socket.remotePort}`);
  },
  async listen(url, _options, accept) {
    const server = net.createServer((socket) =>
      accept(socketChannel(socket, 'tcp', `${socket.remoteAddress}:${socket.remotePort}`)),
    );
    await bind(server, { host: hostOf(url), port: portOf(url) }, url);
    const addr = server.address() as net.AddressInfo;
    return serverListener(server, `tcp://${formatHost(addr.address)}:${addr.port}`);
  },
};

/** `tls://host:port` — TLS with optional mutual authentication. */
export const tlsTransport: TransportFactory = {
  async dial(url, options) {
    const host = hostOf(url);
    // SNI carries host names only (RFC 6066); for an IP the certificate is checked against `host`.
    const servername = net.isIP(host) === 0 ? host : undefined;
    const socket = tls.connect({ servername, ...options.tls, host, port: portOf(url) });
    await awaitConnect(socket, 'secureConnect', url, options);
    return socketChannel(socket, 'tls', `${socket.remoteAddress}:${socket.remotePort}`);
  },
  async listen(url, options, accept) {
    if (!options.tls?.cert || !options.tls.key) {
      throw new PlexusError(ErrorCode.CONFIG, `${url.href} needs tls.cert and tls.key`);
    }
    const server = tls.createServer({ ...options.tls }, (socket) => {
      const peer = socket.authorized ? socket.getPeerCertificate() : undefined;
      const cn = peer && typeof peer.subject?.CN === 'string' ? peer.subject.CN : undefined;
      accept(socketChannel(socket, 'tls', `${socket.remoteAddress}:${socket.remotePort}`, cn));
    });
    // A failed handshake (wrong CA, plain-TCP client) only costs that socket.
    server.on('tlsClientError', () => undefined);
    await bind(server, { host: hostOf(url), port: portOf(url) }, url);
    const addr = server.address() as net.AddressInfo;
    return serverListener(server, `tls://${formatHost(addr.address)}:${addr.port}`);
  },
};

function formatHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}
