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
 * the ring's async wait (addon futex, off the main thread's event loop) and delivers each
 * record as its own chunk. `end()` closes the outbound ring for writing once the queue is
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
import type { ByteChannel, ChannelHandlers, ChannelInfo } from './channel.js';
import type { TransportFactory } from './types.js';

/** Data bytes of each direction's ring. */
export const SHM_RING_CAPACITY = 2 * 1024 * 1024;
/** Largest record; larger chunks are split. */
export const SHM_MAX_RECORD_BYTES = 256 * 1024;

/** How long a reader polls from the event loop before sleeping in the futex. */
export const SHM_POLL_MS = 0.5;

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

class ShmChannel implements ByteChannel {
  readonly info: ChannelInfo;
  private handlers: ChannelHandlers | undefined;
  private readonly tx: SpscRing;
  private readonly rx: SpscRing;
  private readonly abort = new AbortController();
  private readonly queue: Uint8Array[] = [];
  private paused = false;
  private closed = false;
  private ending = false;
  private endWritten = false;
  private waitingWritable = false;
  private wantDrain = false;
  private pumping = false;
  private closeError: Error | undefined;

  constructor(
    private readonly seg: SharedSegment,
    private readonly socket: Socket,
    dialer: boolean,
    remote: string,
  ) {
    this.info = { kind: 'shm', remote };
    const [a, b] = ringOffsets(seg);
    const ringOpts = { checkPeer: () => seg.checkPeers() };
    this.tx = SpscRing.attach(seg.buffer, dialer ? a : b, ringOpts);
    this.rx = SpscRing.attach(seg.buffer, dialer ? b : a, ringOpts);
    socket.on('error', () => undefined);
    socket.on('close', () => this.onSocketClose());
    socket.resume(); // nothing is sent on it after the rendezvous
  }

  attach(handlers: ChannelHandlers): void {
    this.handlers = handlers;
    if (this.closed) {
      const err = this.closeError;
      queueMicrotask(() => handlers.close(err));
      return;
    }
    void this.pump();
  }

  write(chunk: Uint8Array): boolean {
    if (this.closed || this.ending) return true;
    if (this.queue.length === 0) {
      if (this.writeNow(chunk)) return true;
    } else {
      this.queue.push(chunk); // keep the order behind what is already waiting
    }
    this.wantDrain = true;
    this.waitForRoom();
    return false;
  }

  /** Writes as much of `chunk` as fits; queues the rest (returns false then). */
  private writeNow(chunk: Uint8Array): boolean {
    const max = this.tx.maxRecordBytes;
    let off = 0;
    try {
      while (off < chunk.length) {
        const piece = chunk.length - off > max ? chunk.subarray(off, off + max) : off === 0 ? chunk : chunk.subarray(off);
        if (!this.tx.tryWrite(piece)) break;
        off += piece.length;
      }
    } catch (err) {
      this.fail(err as Error); // the peer closed its reading side
      return true;
    }
    if (off === chunk.length) return true;
    this.queue.push(off === 0 ? chunk : chunk.subarray(off));
    return false;
  }

  /** Moves queued chunks into the ring; true once the queue is empty. */
  private flushQueue(): boolean {
    while (this.queue.length > 0 && !this.closed) {
      const chunk = this.queue.shift()!;
      if (!this.writeNow(chunk)) {
        // writeNow queued the remainder at the end; it belongs at the front.
        this.queue.unshift(this.queue.pop()!);
        return false;
      }
    }
    return true;
  }

  private waitForRoom(): void {
    if (this.waitingWritable || this.closed) return;
    this.waitingWritable = true;
    void (async () => {
      try {
        while (!this.closed && !this.flushQueue()) {
          const head = this.queue[0]!;
          await this.tx.waitWritable(Math.min(head.length, this.tx.maxRecordBytes), { signal: this.abort.signal });
        }
      } catch (err) {
        if (!this.closed) this.fail(err as Error);
        return;
      } finally {
        this.waitingWritable = false;
      }
      if (this.closed) return;
      if (this.ending) this.writeEnd();
      if (this.wantDrain) {
        this.wantDrain = false;
        this.handlers?.drain();
      }
    })();
  }

  end(): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    if (this.queue.length === 0) this.writeEnd();
  }

  private writeEnd(): void {
    if (this.endWritten) return;
    this.endWritten = true;
    this.tx.closeWrite();
  }

  destroy(err?: Error): void {
    this.closeLocal(err);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (!this.pumping && this.handlers) void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.closed && !this.paused) {
        const rec = this.rx.tryRead();
        if (rec !== undefined) {
          this.handlers!.data(rec);
          continue;
        }
        if (await this.pollBriefly()) continue;
        if (!(await this.rx.waitReadable({ signal: this.abort.signal }))) {
          // The peer ended (or was destroyed): everything it wrote has been delivered.
          this.closeLocal();
          return;
        }
      }
    } catch (err) {
      if (!this.closed) this.fail(err as Error);
    } finally {
      this.pumping = false;
    }
  }

  /**
   * Before sleeping in the futex (whose async form costs a helper thread per wait), poll
   * the ring from the event loop for a short while: replies and bursts usually arrive
   * within it. True when there is something to do (data, the end, a close or a pause).
   */
  private async pollBriefly(): Promise<boolean> {
    const until = performance.now() + SHM_POLL_MS;
    while (performance.now() < until) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.closed || this.paused || this.rx.usedBytes !== 0 || this.rx.writeClosed) return true;
    }
    return false;
  }

  private fail(err: Error): void {
    const code = (err as PlexusError).code;
    this.closeLocal(code === ErrorCode.PEER_DIED ? err : new PlexusError(ErrorCode.CONNECTION_LOST, `${this.info.remote}: ${err.message}`, { cause: err }));
  }

  private onSocketClose(): void {
    if (this.closed) return;
    // The peer's process is gone or it dropped the connection. Deliver what it wrote
    // before, then close: cleanly if it had ended, else as a dead peer.
    const ended = this.rx.writeClosed;
    if (!this.paused && this.handlers) {
      try {
        for (let rec = this.rx.tryRead(); rec !== undefined && !this.closed; rec = this.rx.tryRead()) this.handlers?.data(rec);
      } catch {
        // Closing anyway.
      }
    }
    if (ended) {
      this.closeLocal();
      return;
    }
    let err: Error = plexusError(ErrorCode.PEER_DIED, `${this.info.remote}: the peer process went away without closing the connection`);
    try {
      this.seg.checkPeers();
    } catch (e) {
      err = e as Error;
    }
    this.closeLocal(err);
  }

  private closeLocal(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError = err;
    this.queue.length = 0;
    this.abort.abort(new PlexusError(ErrorCode.CONNECTION_CLOSED, 'channel closed'));
    try {
      if (!this.endWritten) {
        this.endWritten = true;
        this.tx.closeWrite();
      }
      this.rx.closeRead();
    } catch {
      // The rings are best effort at this point.
    }
    this.socket.destroy();
    this.seg.close();
    const h = this.handlers;
    if (h) queueMicrotask(() => h.close(err));
  }
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
    accept(new ShmChannel(seg, socket, false, `shm://${name}`));
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
      const channel = new ShmChannel(seg, socket, true, `shm://${name}`);
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
