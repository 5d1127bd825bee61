/**
 * `fifo:///path` — a one-way feed through a named pipe, many writers to one reader
 * (S10). Writers cut messages into records of at most PIPE_BUF bytes, each written with
 * one `write()` so the kernel never interleaves them, and each naming its writer; the
 * reader reassembles per writer (fifo-record.ts, fifo-reader.ts). A FIFO has no way back
 * to the writer, so it is not a Plexus connection: it is a feed you read and, if you want
 * it on the bus, publish (docs/local.md).
 */
import { execFile } from 'node:child_process';
import { constants as fsc, closeSync, fstatSync, lstatSync, openSync, writeSync, type Stats } from 'node:fs';
import { randomInt } from 'node:crypto';
import { ErrorCode, PlexusError } from '../errors/index.js';
import {
  DEFAULT_FIFO_MAX_MESSAGE_BYTES,
  FIFO_ATOMIC_BYTES,
  FifoRecordEncoder,
} from './fifo-record.js';
import type { TransportFactory } from './types.js';

/** The path of `fifo:///path` (or a plain path, returned as is). */
export function fifoPath(address: string): string {
  if (!address.startsWith('fifo:')) return address;
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new PlexusError(ErrorCode.INVALID_URL, `not a valid address: ${JSON.stringify(address)}`);
  }
  const path = decodeURIComponent(url.host ? `/${url.host}${url.pathname}` : url.pathname);
  if (path === '' || path === '/') throw new PlexusError(ErrorCode.INVALID_URL, `${address} needs a path, e.g. fifo:///tmp/feed`);
  return path;
}

function kindOf(st: Stats): string {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isSocket()) return 'socket';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  return 'fifo';
}

/** Throw PLEXUS_ERR_NOT_A_FIFO unless `st` is a FIFO. */
export function assertFifo(path: string, st: Stats): void {
  if (!st.isFIFO()) {
    throw new PlexusError(ErrorCode.NOT_A_FIFO, `${path} is a ${kindOf(st)}, not a named pipe`, { details: { path, type: kindOf(st) } });
  }
}

/**
 * Make sure `path` is a FIFO: create it (mode `mode`, default 0600) when missing; throw
 * PLEXUS_ERR_NOT_A_FIFO when something else is there. Node has no mkfifo, so this runs
 * the `mkfifo` utility (coreutils/BSD, present on every Unix).
 */
export async function ensureFifo(path: string, mode = 0o600): Promise<void> {
  try {
    assertFifo(path, lstatSync(path));
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await new Promise<void>((resolve, reject) => {
    execFile('mkfifo', ['-m', mode.toString(8), '--', path], { timeout: 5000 }, (err, _out, stderr) => {
      if (!err) return resolve();
      // Someone else made it in the meantime: fine if it is a FIFO (checked below).
      if (/exists/i.test(stderr)) return resolve();
      reject(new PlexusError(ErrorCode.CONFIG, `mkfifo ${path} failed: ${stderr.trim() || err.message}`, { cause: err }));
    });
  });
  assertFifo(path, lstatSync(path));
}

/** Options for openFifoWriter. */
export interface FifoWriterOptions {
  /** Name the reader sees for this writer (≤ 255 UTF-8 bytes). @default `pid <pid>` */
  readonly name?: string;
  /** How long to wait for a reader to open the FIFO. @default 5000 */
  readonly timeoutMs?: number;
  /** Longest a write may wait for room while the reader does not read. @default 30000 */
  readonly writeTimeoutMs?: number;
  /** Largest message. @default 16 MiB */
  readonly maxMessageBytes?: number;
  readonly signal?: AbortSignal;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * One writer into a FIFO. Messages are queued and written record by record (several small
 * records share one `write()`, never more than PIPE_BUF bytes); `write()` resolves once the
 * whole message is in the pipe. Writes never block the event loop: the descriptor is
 * non-blocking, and a full pipe is retried with a short back-off.
 */
export class FifoWriter {
  readonly pid = process.pid;
  /** Random per writer: tells apart several writers in one process (and a reused pid). */
  readonly id = randomInt(1, 0xffffffff);
  readonly name: string;
  private readonly encoder = new FifoRecordEncoder(process.pid, this.id);
  private readonly queue: { records: Uint8Array[]; resolve: () => void; reject: (e: Error) => void }[] = [];
  private pumping = false;
  private closedErr: PlexusError | undefined;
  private fd: number | undefined;

  private constructor(
    readonly path: string,
    fd: number,
    private readonly options: FifoWriterOptions,
  ) {
    this.fd = fd;
    this.name = options.name ?? `pid ${process.pid}`;
  }

  /** Open `fifo:///path` for writing; waits (up to `timeoutMs`) for a reader to open it. */
  static async open(address: string, options: FifoWriterOptions = {}): Promise<FifoWriter> {
    const path = fifoPath(address);
    const deadline = Date.now() + (options.timeoutMs ?? 5000);
    for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
      if (options.signal?.aborted) {
        throw new PlexusError(ErrorCode.CANCELLED, `opening ${path} was cancelled`, { cause: options.signal.reason });
      }
      let fd: number;
      try {
        // O_NONBLOCK: open fails with ENXIO instead of blocking while there is no reader.
        fd = openSync(path, fsc.O_WRONLY | fsc.O_NONBLOCK | fsc.O_NOCTTY);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENXIO' && Date.now() < deadline) {
          await sleep(delay);
          continue;
        }
        if (code === 'ENXIO') throw new PlexusError(ErrorCode.CONNECT_FAILED, `no reader opened ${path} within ${options.timeoutMs ?? 5000} ms`);
        if (code === 'ENOENT') throw new PlexusError(ErrorCode.CONNECT_FAILED, `${path} does not exist (the reader creates it)`, { cause: err });
        throw new PlexusError(ErrorCode.CONNECT_FAILED, `cannot open ${path}: ${(err as Error).message}`, { cause: err });
      }
      try {
        assertFifo(path, fstatSync(fd)); // checked on the descriptor: no race with a swap of the path
      } catch (err) {
        closeSync(fd);
        throw err;
      }
      const w = new FifoWriter(path, fd, options);
      await w.enqueue([w.encoder.hello(w.name)]);
      return w;
    }
  }

  /** Queue one message; resolves when all of it is in the pipe. */
  write(data: Uint8Array | string): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const max = this.options.maxMessageBytes ?? DEFAULT_FIFO_MAX_MESSAGE_BYTES;
    if (bytes.length > max) {
      return Promise.reject(new PlexusError(ErrorCode.PAYLOAD_TOO_LARGE, `fifo message of ${bytes.length} bytes exceeds ${max}`));
    }
    return this.enqueue(this.encoder.message(bytes));
  }

  /** Say goodbye once the queue is written, then close. The reader sees EOF when the last writer closes. */
  async close(): Promise<void> {
    if (this.fd === undefined) return;
    await this.enqueue([this.encoder.bye()]).catch(() => undefined);
    this.destroy();
  }

  /** Close now; queued messages reject with `err` (or PLEXUS_ERR_CONNECTION_CLOSED). */
  destroy(err?: PlexusError): void {
    this.closedErr ??= err ?? new PlexusError(ErrorCode.CONNECTION_CLOSED, `fifo writer for ${this.path} is closed`);
    for (const q of this.queue.splice(0)) q.reject(this.closedErr);
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private enqueue(records: Uint8Array[]): Promise<void> {
    if (this.closedErr) return Promise.reject(this.closedErr);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ records, resolve, reject });
      void this.pump();
    });
  }

  /** Write queued records, packing whole records into writes of at most PIPE_BUF. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    const buf = new Uint8Array(FIFO_ATOMIC_BYTES);
    let stalledSince: number | undefined;
    let delay = 1;
    try {
      while (this.queue.length > 0 && this.fd !== undefined) {
        // Pack from the front of the queue; remember how far the pack goes.
        let used = 0;
        let qi = 0;
        let ri = 0;
        while (qi < this.queue.length) {
          const rec = this.queue[qi]!.records[ri]!;
          if (used + rec.length > FIFO_ATOMIC_BYTES) break;
          buf.set(rec, used);
          used += rec.length;
          if (++ri === this.queue[qi]!.records.length) {
            qi++;
            ri = 0;
          }
        }
        try {
          // One write() of ≤ PIPE_BUF on a non-blocking pipe: all of it or EAGAIN, never part.
          writeSync(this.fd, buf, 0, used);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'EAGAIN') {
            stalledSince ??= Date.now();
            const limit = this.options.writeTimeoutMs ?? 30_000;
            if (Date.now() - stalledSince > limit) {
              this.destroy(new PlexusError(ErrorCode.TIMEOUT, `the reader of ${this.path} read nothing for ${limit} ms`));
              return;
            }
            await sleep(delay);
            delay = Math.min(delay * 2, 20);
            continue;
          }
          const lost = code === 'EPIPE' ? `the reader of ${this.path} closed it` : `writing ${this.path} failed: ${(err as Error).message}`;
          this.destroy(new PlexusError(ErrorCode.CONNECTION_LOST, lost, { cause: err }));
          return;
        }
        stalledSince = undefined;
        delay = 1;
        // Settle the messages that are now wholly written; trim the one cut mid-way.
        for (let i = 0; i < qi; i++) this.queue.shift()!.resolve();
        if (ri > 0) this.queue[0]!.records.splice(0, ri);
      }
    } finally {
      this.pumping = false;
    }
  }
}

/** Shorthand for FifoWriter.open. */
export function openFifoWriter(address: string, options?: FifoWriterOptions): Promise<FifoWriter> {
  return FifoWriter.open(address, options);
}

/**
 * The `fifo:` entry of the transport table. A FIFO is one-way, so it cannot carry a
 * Plexus connection (which needs the broker's answers); both directions refuse with a
 * pointer to the feed API instead of a puzzling "unsupported transport".
 */
export const fifoTransport: TransportFactory = {
  async dial(url) {
    throw new PlexusError(ErrorCode.CONFIG, `${url.href} is a one-way feed, not a connection: write with openFifoWriter(), read with openFifoReader()`);
  },
  async listen(url) {
    throw new PlexusError(ErrorCode.CONFIG, `${url.href} is a one-way feed, not a listener: read it with openFifoReader() and publish what you read`);
  },
};
