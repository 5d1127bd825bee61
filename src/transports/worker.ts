/**
 * `worker:` — a byte channel over a `MessagePort` (worker_threads), for a broker and a
 * client in different threads of one process.
 *
 * Wire protocol on the port (both directions):
 * - a `Uint8Array`: stream bytes, in order;
 * - a number: an acknowledgement — the receiver consumed that many more bytes;
 * - the string `'end'`: the sender ended the stream; the receiver closes the port after
 *   delivering everything before it.
 *
 * Backpressure: each side counts bytes posted but not yet acknowledged; `write()` returns
 * false once that passes the high-water mark and `drain` follows when acknowledgements
 * bring it back under half. The receiver acknowledges per {@link ACK_BYTES} delivered (and
 * delivers nothing while paused), so a paused or slow peer stops the writer.
 *
 * The port closing (either side's `close()`, the worker exiting or being terminated) is
 * the channel closing: without a prior `'end'` it is reported as an error.
 */
import { MessageChannel, isMainThread, workerData, type MessagePort } from 'node:worker_threads';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { SpscRing, ringByteLength } from '../local/index.js';
import type { ByteChannel, ChannelHandlers, ChannelInfo } from './channel.js';
import { RingChannel } from './ring-channel.js';
import type { TransportFactory } from './types.js';

/** Unacknowledged bytes above which `write` returns false. */
export const WORKER_HIGH_WATER_BYTES = 4 * 1024 * 1024;
/** The receiver acknowledges after delivering this many bytes (must stay below the high-water mark). */
export const ACK_BYTES = 64 * 1024;

const END = 'end';

/** Options for {@link channelFromPort}. */
export interface PortChannelOptions {
  /**
   * Transfer (rather than copy) a chunk's ArrayBuffer when the chunk covers all of it.
   * Off by default: the framer hands large immutable payloads to the channel by reference,
   * and those buffers may still be in use elsewhere (the caller's own payload, or the same
   * message being forwarded to several connections); transferring detaches them. Turn it
   * on only when nothing shares the buffers written. @default false
   */
  readonly transfer?: boolean;
  /** @default {@link WORKER_HIGH_WATER_BYTES} */
  readonly highWaterBytes?: number;
  /** What `info.remote` says. @default 'port' */
  readonly remote?: string;
}

class PortChannel implements ByteChannel {
  readonly info: ChannelInfo;
  private handlers: ChannelHandlers | undefined;
  private readonly inbox: Uint8Array[] = [];
  private paused = false;
  private closed = false;
  private ending = false;
  private endReceived = false;
  private destroyed = false;
  /** Bytes posted and not yet acknowledged by the peer. */
  private unacked = 0;
  /** Bytes delivered and not yet acknowledged to the peer. */
  private consumed = 0;
  private wantDrain = false;
  private closeError: Error | undefined;
  private readonly highWater: number;
  private readonly transfer: boolean;

  constructor(
    private readonly port: MessagePort,
    options: PortChannelOptions,
  ) {
    this.info = { kind: 'worker', remote: options.remote ?? 'port' };
    this.highWater = options.highWaterBytes ?? WORKER_HIGH_WATER_BYTES;
    this.transfer = options.transfer ?? false;
    port.on('message', (m: unknown) => this.onMessage(m));
    port.on('close', () => this.onPortClose());
    // Messages are queued by the port until attach() installs the handlers.
  }

  attach(handlers: ChannelHandlers): void {
    this.handlers = handlers;
    if (this.closed) {
      const err = this.closeError;
      queueMicrotask(() => handlers.close(err));
      return;
    }
    this.deliver();
  }

  write(chunk: Uint8Array): boolean {
    if (this.closed || this.ending) return true;
    const n = chunk.byteLength;
    const buf = chunk.buffer;
    if (this.transfer && buf instanceof ArrayBuffer && chunk.byteOffset === 0 && n === buf.byteLength) {
      this.port.postMessage(chunk, [buf]);
    } else {
      this.port.postMessage(chunk); // structured clone copies exactly the chunk's bytes
    }
    this.unacked += n;
    if (this.unacked > this.highWater) {
      this.wantDrain = true;
      return false;
    }
    return true;
  }

  end(): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    this.port.postMessage(END);
  }

  destroy(err?: Error): void {
    if (this.closed) return;
    this.destroyed = true;
    this.closeLocal(err);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    queueMicrotask(() => this.deliver());
  }

  private onMessage(m: unknown): void {
    if (this.closed) return;
    if (m instanceof Uint8Array) {
      this.inbox.push(m);
      this.deliver();
    } else if (typeof m === 'number') {
      this.unacked -= m;
      if (this.wantDrain && this.unacked <= this.highWater / 2) {
        this.wantDrain = false;
        this.handlers?.drain();
      }
    } else if (m === END) {
      this.endReceived = true;
      this.deliver();
    }
  }

  private deliver(): void {
    const h = this.handlers;
    if (!h) return;
    while (!this.paused && !this.closed && this.inbox.length > 0) {
      const chunk = this.inbox.shift()!;
      this.consumed += chunk.byteLength;
      h.data(chunk);
    }
    if (this.consumed >= ACK_BYTES && !this.closed) {
      this.port.postMessage(this.consumed);
      this.consumed = 0;
    }
    if (this.endReceived && this.inbox.length === 0 && !this.closed) this.closeLocal();
  }

  private onPortClose(): void {
    if (this.closed) return;
    const clean = this.endReceived || this.ending || this.destroyed;
    // Deliver what arrived before the close, unless paused (then it is dropped).
    if (!this.paused) this.deliver();
    this.closeLocal(clean ? undefined : new PlexusError(ErrorCode.CONNECTION_LOST, `${this.info.remote}: the message port closed (peer thread gone)`));
  }

  private closeLocal(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError = err;
    this.inbox.length = 0;
    this.port.close();
    const h = this.handlers;
    if (h) queueMicrotask(() => h.close(err));
  }
}

/** A byte channel over one end of a `MessageChannel`; the other end must be a channel too. */
export function channelFromPort(port: MessagePort, options: PortChannelOptions = {}): ByteChannel {
  return new PortChannel(port, options);
}

/** The key under which {@link workerPortPair} expects the port in `workerData`. */
export const WORKER_PORT_KEY = 'plexusPort';
/** The key under which the rings' SharedArrayBuffer travels in `workerData` (ring mode). */
export const WORKER_RINGS_KEY = 'plexusRings';

/** Data bytes of each direction's ring in ring mode. */
export const WORKER_RING_CAPACITY = 2 * 1024 * 1024;

/** Options for {@link workerPortPair}. */
export interface WorkerPairOptions extends PortChannelOptions {
  /**
   * Carry the bytes over two SPSC rings in a SharedArrayBuffer (one per direction,
   * `Atomics` wake-ups, no addon) instead of `postMessage`; the port then only tells when
   * the other thread is gone. @default false
   */
  readonly rings?: boolean;
}

/** What {@link workerPortPair} returns. */
export interface WorkerPair {
  /** The parent's end: give it to `broker.accept`. */
  readonly channel: ByteChannel;
  /** The worker's end of the port. */
  readonly port: MessagePort;
  /** Pass as the Worker's `workerData` (or spread into yours): `connect('worker:')` finds it there. */
  readonly workerData: { readonly [WORKER_PORT_KEY]: MessagePort; readonly [WORKER_RINGS_KEY]?: SharedArrayBuffer };
  /** Pass as the Worker's `transferList`. */
  readonly transferList: MessagePort[];
}

/** Ring 0 carries worker → parent, ring 1 parent → worker. */
function ringOffsets(): [number, number] {
  return [0, ringByteLength(WORKER_RING_CAPACITY)];
}

function ringChannel(port: MessagePort, buffer: SharedArrayBuffer, side: 'parent' | 'worker', remote: string): ByteChannel {
  const [a, b] = ringOffsets();
  const toParent = SpscRing.attach(buffer, a);
  const toWorker = SpscRing.attach(buffer, b);
  const [tx, rx] = side === 'parent' ? [toWorker, toParent] : [toParent, toWorker];
  return new RingChannel(
    tx,
    rx,
    {
      watch: (gone) => port.once('close', gone),
      goneError: () => new PlexusError(ErrorCode.CONNECTION_LOST, `${remote}: the message port closed (peer thread gone)`),
      release: () => port.close(),
    },
    { kind: 'worker', remote },
  );
}

/**
 * Parent side of the common case: a new `MessageChannel` whose one end is already a
 * channel (give it to `broker.accept`) and whose other end goes to the worker.
 *
 * ```ts
 * const pair = workerPortPair();            // { rings: true } for shared-memory rings
 * broker.accept(pair.channel);
 * new Worker(file, { workerData: pair.workerData, transferList: pair.transferList });
 * // in the worker: await connect('worker:')
 * ```
 */
export function workerPortPair(options: WorkerPairOptions = {}): WorkerPair {
  const { port1, port2 } = new MessageChannel();
  if (options.rings) {
    const [, b] = ringOffsets();
    const buffer = new SharedArrayBuffer(b + ringByteLength(WORKER_RING_CAPACITY));
    for (const byteOffset of ringOffsets()) SpscRing.create(buffer, { byteOffset, capacity: WORKER_RING_CAPACITY, maxRecordBytes: 256 * 1024 });
    return {
      channel: ringChannel(port1, buffer, 'parent', options.remote ?? 'port'),
      port: port2,
      workerData: { [WORKER_PORT_KEY]: port2, [WORKER_RINGS_KEY]: buffer },
      transferList: [port2],
    };
  }
  return { channel: channelFromPort(port1, options), port: port2, workerData: { [WORKER_PORT_KEY]: port2 }, transferList: [port2] };
}

/**
 * A `worker:` transport bound to one port: `dial` wraps it (once; a port carries one
 * connection, so a reconnect fails with `PLEXUS_ERR_CONNECT_FAILED`), `listen` accepts it
 * as the single connection. Use it in a transport table:
 * `connect('worker:', { transports: { ...defaultTransports, 'worker:': workerPortTransport(port) } })`.
 */
export function workerPortTransport(port: MessagePort, options: PortChannelOptions = {}): TransportFactory {
  let used = false;
  const take = (): ByteChannel => {
    if (used) throw new PlexusError(ErrorCode.CONNECT_FAILED, 'worker: this message port was already used for a connection (a port carries one)');
    used = true;
    return channelFromPort(port, options);
  };
  return {
    async dial() {
      return take();
    },
    async listen(url, _options, accept) {
      accept(take());
      return { url: url.href, close: async () => undefined };
    },
  };
}

let defaultPortUsed = false;

/**
 * The `worker:` entry of the default table: in a worker thread whose `workerData` has a
 * `plexusPort` MessagePort (see {@link workerPortPair}), dial uses that port (once).
 * Anywhere else it fails with a message saying what to do.
 */
export const workerTransport: TransportFactory = {
  async dial() {
    const data: unknown = workerData;
    const port = !isMainThread && typeof data === 'object' && data !== null ? (data as Record<string, unknown>)[WORKER_PORT_KEY] : undefined;
    if (!port || typeof (port as MessagePort).postMessage !== 'function') {
      throw new PlexusError(
        ErrorCode.CONNECT_FAILED,
        `worker: needs a MessagePort: pass one in workerData.${WORKER_PORT_KEY} (see workerPortPair) or use workerPortTransport(port) in the transports table`,
      );
    }
    if (defaultPortUsed) throw new PlexusError(ErrorCode.CONNECT_FAILED, `worker: workerData.${WORKER_PORT_KEY} was already used for a connection`);
    defaultPortUsed = true;
    const rings = (data as Record<string, unknown>)[WORKER_RINGS_KEY];
    if (rings instanceof SharedArrayBuffer) return ringChannel(port as MessagePort, rings, 'worker', 'parent');
    return channelFromPort(port as MessagePort);
  },
  async listen() {
    throw new PlexusError(ErrorCode.CONFIG, 'worker: cannot listen by address; accept each port with broker.accept(channelFromPort(port)) or workerPortPair()');
  },
};
