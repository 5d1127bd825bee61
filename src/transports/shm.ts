/**
 * `shm://name` — a byte channel between two processes on one host over a pair of SPSC
 * rings in one shared segment (one ring per direction), with a Unix socket rendezvous.
 *
 * Rendezvous: the listener binds a Unix socket (mode 0600) at `<tmpdir>/plexus-shm-<uid>-<name>.sock`.
 * For each dialer that connects it creates a fresh segment (mode 0600, a random name) with
 * both rings, sends `{"segment":"..."}\n`; the dialer maps it and answers `ok\n`; the
 * listener then unlinks the segment's name (the mappings stay), so a crash of either side
 * leaves nothing behind in /dev/shm. The socket stays open for the connection's lifetime
 * as its liveness line: the kernel closes it when a process dies (even by SIGKILL), so the
 * other side notices at once rather than after the segment's heartbeat timeout.
 *
 * Data: `write()` copies the chunk into the outbound ring (split into records of at most
 * the ring's record limit); when the ring is full the rest stays queued, `write()` returns
 * false, and `drain` follows once the queue has gone into the ring. The reader sleeps in
 * the ring's async wait (addon futex, off the main thread's event loop) and delivers the
 * records ready at once as one chunk. `end()` closes the outbound ring for writing once the queue is
 * in; the peer reads to the end and closes too. A peer that disappears without ending
 * closes the channel with `PLEXUS_ERR_PEER_DIED`.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, PlexusError, plexusError } from '../errors/index.js';
import { SharedSegment, SpscRing, loadShm, ringByteLength } from '../local/index.js';
import type { ByteChannel } from './channel.js';
import { RingChannel, type RingLink } from './ring-channel.js';
import type { TransportFactory } from './types.js';

/** Data bytes of each direction's ring. */
export const SHM_RING_CAPACITY = 2 * 1024 * 1024;
/** Largest record; larger chunks are split. */
export const SHM_MAX_RECORD_BYTES = 256 * 1024;

const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/;
const MAX_LINE = 1024;

function shmName(url: URL): string {
  const name = (url.host + url.pathname).replace(/\/+$/, '');
  if (!NAME_RE.test(name)) {
    throw new PlexusError(ErrorCode.INVALID_URL, `invalid shm address ${url.href}: the name must be 1-64 characters of A-Z a-z 0-9 . _ -`);
  }
  return name;
}

/** Where the rendezvous socket of `shm://name` lives. */
export function shmSocketPath(name: string): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return join(tmpdir(), `plexus-shm-${uid}-${name}.sock`);
}

function requireAddon(what: string): void {
  try {
    loadShm();
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new PlexusError(ErrorCode.SHM_UNAVAILABLE, `${what}: the shm:// transport needs the native shared-memory addon: ${reason}`, { cause: err });
  }
}

/** Both rings' offsets in a connection segment (ring 0: dialer → listener, ring 1: back). */
function ringOffsets(seg: SharedSegment): [number, number] {
  const a = seg.dataOffset;
  return [a, a + ringByteLength(SHM_RING_CAPACITY)];
}

function shmChannel(seg: SharedSegment, socket: Socket, dialer: boolean, remote: string): ByteChannel {
  const [a, b] = ringOffsets(seg);
  const ringOpts = { checkPeer: () => seg.checkPeers() };
  const tx = SpscRing.attach(seg.buffer, dialer ? a : b, ringOpts);
  const rx = SpscRing.attach(seg.buffer, dialer ? b : a, ringOpts);
  socket.on('error', () => undefined);
  socket.resume(); // nothing is sent on it after the rendezvous
  const link: RingLink = {
    watch: (gone) => socket.once('close', gone),
    goneError: () => {
      try {
        seg.checkPeers();
      } catch (e) {
        return e as Error;
      }
      return plexusError(ErrorCode.PEER_DIED, `${remote}: the peer process went away without closing the connection`);
    },
    release: () => {
      socket.destroy();
      seg.close();
    },
  };
  return new RingChannel(tx, rx, link, { kind: 'shm', remote });
}

/** Reads one `\n`-terminated line (bounded) from a socket. */
function readLine(socket: Socket, timeoutMs: number, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const done = (err: Error | undefined, line?: string): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('error', onError);
      if (err) reject(err);
      else resolve(line!);
    };
    const onData = (d: Buffer): void => {
      buf += d.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        socket.pause();
        done(undefined, buf.slice(0, nl));
      } else if (buf.length > MAX_LINE) done(new PlexusError(ErrorCode.PROTOCOL, `${what}: rendezvous line too long`));
    };
    const onClose = (): void => done(new PlexusError(ErrorCode.CONNECT_FAILED, `${what}: the other side closed during the rendezvous`));
    const onError = (err: Error): void => done(new PlexusError(ErrorCode.CONNECT_FAILED, `${what}: ${err.message}`, { cause: err }));
    const timer = setTimeout(() => done(new PlexusError(ErrorCode.TIMEOUT, `${what}: rendezvous timed out after ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.on('error', onError);
    socket.resume();
  });
}

function createConnectionSegment(name: string): SharedSegment {
  const ringBytes = ringByteLength(SHM_RING_CAPACITY);
  const segName = `plexus-${name}-${process.pid}-${randomBytes(6).toString('hex')}`;
  const seg = SharedSegment.create(segName, { size: 2 * ringBytes });
  const [a, b] = ringOffsets(seg);
  for (const byteOffset of [a, b]) {
    SpscRing.create(seg.buffer, { byteOffset, capacity: SHM_RING_CAPACITY, maxRecordBytes: SHM_MAX_RECORD_BYTES, wake: 'futex' });
  }
  return seg;
}

const RENDEZVOUS_TIMEOUT_MS = 5000;

async function listenerHandshake(socket: Socket, name: string, accept: (channel: ByteChannel) => void): Promise<void> {
  let seg: SharedSegment | undefined;
  try {
    seg = createConnectionSegment(name);
    socket.write(`${JSON.stringify({ segment: seg.name })}\n`);
    const line = await readLine(socket, RENDEZVOUS_TIMEOUT_MS, `shm://${name}`);
    if (line !== 'ok') throw new PlexusError(ErrorCode.PROTOCOL, `shm://${name}: unexpected rendezvous reply`);
    SharedSegment.unlink(seg.name); // both sides have it mapped; no name left to leak
    accept(shmChannel(seg, socket, false, `shm://${name}`));
  } catch {
    seg?.close();
    socket.destroy();
  }
}

/** The `shm://name` transport (see the module comment). */
export const shmTransport: TransportFactory = {
  async dial(url, options) {
    const name = shmName(url);
    requireAddon(`dialing shm://${name}`);
    const timeoutMs = options.timeoutMs ?? 5000;
    const socket = createConnection(shmSocketPath(name));
    const onAbort = (): void => void socket.destroy(new PlexusError(ErrorCode.CANCELLED, `dialing shm://${name} was cancelled`));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    let seg: SharedSegment | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', (err: NodeJS.ErrnoException) =>
          reject(
            new PlexusError(ErrorCode.CONNECT_FAILED, `cannot connect to shm://${name}: ${err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? 'nothing listens there' : err.message}`, {
              cause: err,
            }),
          ),
        );
      });
      const line = await readLine(socket, timeoutMs, `shm://${name}`);
      let segName: unknown;
      try {
        segName = (JSON.parse(line) as { segment?: unknown }).segment;
      } catch {
        segName = undefined;
      }
      if (typeof segName !== 'string') throw new PlexusError(ErrorCode.PROTOCOL, `shm://${name}: bad rendezvous message`);
      seg = SharedSegment.open(segName);
      const channel = shmChannel(seg, socket, true, `shm://${name}`);
      socket.write('ok\n');
      return channel;
    } catch (err) {
      seg?.close();
      socket.destroy();
      throw err;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  },

  async listen(url, options, accept) {
    const name = shmName(url);
    requireAddon(`listening on shm://${name}`);
    const path = shmSocketPath(name);
    const server = createServer((socket) => void listenerHandshake(socket, name, accept));
    await bindSocket(server, path, name, options.socketMode ?? 0o600);
    return {
      url: `shm://${name}`,
      // Stops accepting at once; connections already made keep their rendezvous sockets
      // (their liveness lines), so net.Server's own close callback would wait for them.
      close: async () => {
        if (!server.listening) return;
        server.close();
        try {
          unlinkSync(path);
        } catch {
          // Already removed.
        }
      },
    };
  },
};

async function bindSocket(server: Server, path: string, name: string, mode: number): Promise<void> {
  const tryListen = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      server.once('error', onError);
      server.listen(path, () => {
        server.off('error', onError);
        resolve();
      });
    });
  try {
    await tryListen();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw new PlexusError(ErrorCode.CONFIG, `cannot listen on shm://${name}: ${(err as Error).message}`, { cause: err });
    // Someone listens there, or a dead listener left its socket file: find out which.
    const alive = await new Promise<boolean>((resolve) => {
      const probe = createConnection(path);
      probe.once('connect', () => {
        probe.destroy();
        resolve(true);
      });
      probe.once('error', () => resolve(false));
    });
    if (alive) throw new PlexusError(ErrorCode.CONFIG, `shm://${name} is already listening`);
    try {
      unlinkSync(path);
    } catch {
      // Gone already.
    }
    await tryListen();
  }
  chmodSync(path, mode);
}
