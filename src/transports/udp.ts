/**
 * `udp://host:port` — fire-and-forget publishing, one Plexus PUB frame per datagram
 * (S12: telemetry, discovery beacons). Lossy and unordered by nature: a datagram may be
 * dropped, duplicated or overtaken, and nobody is told. There is no connection, so it is
 * not in the connect/listen path: a `UdpPublisher` sends, a `UdpReceiver` receives,
 * drops what is not a well-formed PUB frame, and counts it.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { waitForWake } from './wait-wake.js';
import { FrameType, decodeHeaders, encodeFrame, encodeHeaders, hasReservedHeader, parseFrame, subjectProblem, type Headers } from '../wire/index.js';
import type { TransportFactory } from './types.js';

/** Largest UDP payload over IPv4 (65535 − 8 UDP − 20 IP header bytes). */
export const UDP_MAX_DATAGRAM_BYTES = 65_507;

/**
 * Default datagram limit: fits one Ethernet frame (1500 MTU − IP/UDP headers) with room
 * to spare, so nothing is IP-fragmented (one lost fragment loses the datagram).
 */
export const DEFAULT_UDP_DATAGRAM_BYTES = 1400;

/** Host and port of `udp://host:port`. */
export function udpEndpoint(address: string): { host: string; port: number; family: 'udp4' | 'udp6' } {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new PlexusError(ErrorCode.INVALID_URL, `not a valid address: ${JSON.stringify(address)}`);
  }
  if (url.protocol !== 'udp:') throw new PlexusError(ErrorCode.INVALID_URL, `${address} is not a udp:// address`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host === '' || url.port === '') throw new PlexusError(ErrorCode.INVALID_URL, `${address} needs a host and a port, e.g. udp://127.0.0.1:4854`);
  return { host, port: Number(url.port), family: isIP(host) === 6 ? 'udp6' : 'udp4' };
}

function checkLimit(max: number | undefined): number {
  const limit = max ?? DEFAULT_UDP_DATAGRAM_BYTES;
  if (!Number.isInteger(limit) || limit < 64 || limit > UDP_MAX_DATAGRAM_BYTES) {
    throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `maxDatagramBytes must be an integer in 64..${UDP_MAX_DATAGRAM_BYTES}`);
  }
  return limit;
}

/** Options for UdpPublisher. */
export interface UdpPublisherOptions {
  /** Largest datagram (the whole encoded frame). @default 1400 */
  readonly maxDatagramBytes?: number;
}

/** Sends PUB frames as datagrams to one `udp://host:port`. */
export class UdpPublisher {
  private closed = false;
  private readonly maxBytes: number;

  private constructor(
    private readonly socket: Socket,
    private readonly host: string,
    private readonly port: number,
    options: UdpPublisherOptions,
  ) {
    this.maxBytes = checkLimit(options.maxDatagramBytes);
  }

  static open(address: string, options: UdpPublisherOptions = {}): UdpPublisher {
    const { host, port, family } = udpEndpoint(address);
    checkLimit(options.maxDatagramBytes);
    const socket = createSocket(family);
    socket.on('error', () => undefined); // send errors reach publish(); nothing else can fail
    socket.unref(); // a publisher alone never keeps the process alive
    return new UdpPublisher(socket, host, port, options);
  }

  /**
   * Send one message. Resolves when the datagram is handed to the kernel — which says
   * nothing about delivery. Throws PLEXUS_ERR_PAYLOAD_TOO_LARGE (nothing sent) when the
   * encoded frame exceeds `maxDatagramBytes`.
   */
  async publish(subject: string, payload: Uint8Array | string = new Uint8Array(0), headers?: Headers): Promise<void> {
    if (this.closed) throw new PlexusError(ErrorCode.CONNECTION_CLOSED, 'the udp publisher is closed');
    const problem = subjectProblem(subject, false);
    if (problem) throw new PlexusError(ErrorCode.INVALID_SUBJECT, problem);
    const block = encodeHeaders(headers);
    if (block && hasReservedHeader(block)) {
      throw new PlexusError(ErrorCode.INVALID_HEADERS, 'headers starting with ":" are set by Plexus, not by senders');
    }
    const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
    const frame = encodeFrame({ type: FrameType.PUB, subject, ...(block ? { headers: block } : {}), payload: bytes });
    if (frame.length > this.maxBytes) {
      throw new PlexusError(ErrorCode.PAYLOAD_TOO_LARGE, `datagram of ${frame.length} bytes exceeds maxDatagramBytes ${this.maxBytes}`, {
        details: { size: frame.length, maxBytes: this.maxBytes },
      });
    }
    await new Promise<void>((resolve, reject) =>
      this.socket.send(frame, this.port, this.host, (err) =>
        err ? reject(new PlexusError(ErrorCode.CONNECTION_LOST, `udp send to ${this.host}:${this.port} failed: ${err.message}`, { cause: err })) : resolve(),
      ),
    );
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
  }
}

/** A message received over UDP. */
export interface UdpMessage {
  readonly subject: string;
  readonly headers: Headers | undefined;
  readonly payload: Uint8Array;
  /** The sender's address as the datagram says (unauthenticated: anyone can send). */
  readonly from: { readonly address: string; readonly port: number };
}

/** What a receiver counted. */
export interface UdpReceiverStats {
  /** Datagrams that arrived. */
  received: number;
  /** Well-formed messages queued for the reader. */
  delivered: number;
  /** Dropped: not one PUB frame, a bad subject, reserved headers, a reply subject. */
  malformed: number;
  /** Dropped: larger than maxDatagramBytes. */
  tooLarge: number;
  /** Dropped: the queue was full (the reader is behind). */
  overflow: number;
}

/** Options for UdpReceiver. */
export interface UdpReceiverOptions {
  /** Larger datagrams are dropped and counted. @default 1400 */
  readonly maxDatagramBytes?: number;
  /** Messages held for the reader; past it new ones are dropped and counted. @default 10000 */
  readonly maxQueued?: number;
  /** Called for every dropped datagram, with why (for logs). */
  readonly onDrop?: (reason: 'malformed' | 'tooLarge' | 'overflow', from: { address: string; port: number }) => void;
}

/**
 * Receives PUB datagrams on a bound `udp://host:port` (port 0 picks one: see `url`).
 * Iterate it; the iteration ends on `close()`.
 */
export class UdpReceiver implements AsyncIterable<UdpMessage> {
  readonly stats: UdpReceiverStats = { received: 0, delivered: 0, malformed: 0, tooLarge: 0, overflow: 0 };
  private readonly queue: UdpMessage[] = [];
  /** Pending next() calls (several may wait at once); each re-checks when woken. */
  private readonly waiters = new Set<() => void>();
  private closed = false;
  private readonly maxBytes: number;
  private readonly maxQueued: number;

  private constructor(
    private readonly socket: Socket,
    /** The bound address, with the real port. */
    readonly url: string,
    private readonly options: UdpReceiverOptions,
  ) {
    this.maxBytes = checkLimit(options.maxDatagramBytes);
    this.maxQueued = options.maxQueued ?? 10_000;
    socket.on('message', (msg, rinfo) => this.onDatagram(msg, { address: rinfo.address, port: rinfo.port }));
  }

  /** Bind `udp://host:port`. Rejects with PLEXUS_ERR_CONFIG when the address cannot be bound. */
  static async open(address: string, options: UdpReceiverOptions = {}): Promise<UdpReceiver> {
    const { host, port, family } = udpEndpoint(address);
    checkLimit(options.maxDatagramBytes);
    const socket = createSocket(family);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        socket.close();
        reject(new PlexusError(ErrorCode.CONFIG, `cannot bind ${address}: ${err.message}`, { cause: err }));
      };
      socket.once('error', onError);
      socket.bind(port, host, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    socket.on('error', () => undefined); // a bound UDP socket reports nothing we can act on
    const bound = socket.address();
    const shown = family === 'udp6' ? `[${bound.address}]` : bound.address;
    return new UdpReceiver(socket, `udp://${shown}:${bound.port}`, options);
  }

  /** The next message, or null once closed. Waits at most `timeoutMs` (then PLEXUS_ERR_TIMEOUT). */
  async next(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<UdpMessage | null> {
    const { timeoutMs, signal } = options;
    if (signal?.aborted) throw signal.reason;
    // One deadline for the whole call: a wake-up that finds the queue empty again (another
    // next() took the message) does not restart the clock.
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    for (;;) {
      const m = this.queue.shift();
      if (m) return m;
      if (this.closed) return null;
      await waitForWake(this.waiters, deadline, signal, () => new PlexusError(ErrorCode.TIMEOUT, `no datagram on ${this.url} within ${timeoutMs} ms`));
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<UdpMessage> {
    try {
      for (;;) {
        const m = await this.next();
        if (m === null) return;
        yield m;
      }
    } finally {
      this.close();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
    for (const w of [...this.waiters]) w();
  }

  private drop(reason: 'malformed' | 'tooLarge' | 'overflow', from: { address: string; port: number }): void {
    this.stats[reason]++;
    this.options.onDrop?.(reason, from);
  }

  private onDatagram(msg: Buffer, from: { address: string; port: number }): void {
    this.stats.received++;
    if (msg.length > this.maxBytes) return this.drop('tooLarge', from);
    const frame = parseFrame(msg);
    if (
      frame instanceof PlexusError ||
      frame.type !== FrameType.PUB ||
      frame.flags !== 0 ||
      frame.reply !== '' ||
      subjectProblem(frame.subject, false) !== undefined ||
      (frame.headers !== undefined && hasReservedHeader(frame.headers))
    ) {
      return this.drop('malformed', from);
    }
    if (this.queue.length >= this.maxQueued) return this.drop('overflow', from);
    this.stats.delivered++;
    // Copy out: the frame's views point into `msg`, which is ours, but a copy keeps the
    // payload independent of the header bytes (a consumer may hold it long).
    this.queue.push({ subject: frame.subject, headers: decodeHeaders(frame.headers), payload: new Uint8Array(frame.payload), from });
    for (const w of [...this.waiters]) w();
  }
}

/**
 * The `udp:` entry of the transport table: datagrams carry no connection, so dial and
 * listen refuse with a pointer to UdpPublisher / UdpReceiver.
 */
export const udpTransport: TransportFactory = {
  async dial(url) {
    throw new PlexusError(ErrorCode.CONFIG, `${url.href} is fire-and-forget, not a connection: send with UdpPublisher.open()`);
  },
  async listen(url) {
    throw new PlexusError(ErrorCode.CONFIG, `${url.href} is fire-and-forget, not a listener: receive with UdpReceiver.open()`);
  },
};
