import { ErrorCode, PlexusError } from '../errors/index.js';
import {
  Flag,
  FrameDecoder,
  FrameType,
  encodeUtf8,
  isControlType,
  maxEncodedLength,
  writeFrame,
  type Frame,
  type FrameInit,
} from '../wire/index.js';
import type { ByteChannel, ChannelInfo } from './channel.js';

/** Receives what a framed transport decodes. */
export interface TransportSink {
  onFrame(frame: Frame): void;
  /** Called once when the transport has closed; `err` is set for abnormal closes. */
  onClose(err?: Error): void;
  /** Pending outbound bytes dropped below the low-water mark. */
  onDrain?(): void;
}

/** Options for {@link FramedTransport}. */
export interface FramedTransportOptions {
  /** Largest inbound frame, including its length prefix. @default 1 MiB + 192 KiB + 20 */
  readonly maxFrameBytes?: number;
  /** Validate inbound header blocks (see FrameDecoderOptions). @default true */
  readonly validateHeaders?: boolean;
  /** Outbound bytes above which `writable` turns false. @default 8 MiB */
  readonly highWaterBytes?: number;
  /** How long a graceful close may take to flush before the channel is destroyed. @default 2000 */
  readonly closeTimeoutMs?: number;
}

/** Outbound lanes: control frames overtake queued bulk data (S15). */
export type Lane = 'control' | 'bulk';

const CHUNK_BYTES = 64 * 1024;
/** Immutable payloads at least this large are sent by reference (see FrameInit.payloadImmutable). */
const BY_REFERENCE_BYTES = 16 * 1024;
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024 + 3 * 0xffff + 20;

/** A lane of outbound bytes: sealed chunks plus one open buffer being filled. */
class OutLane {
  readonly chunks: Uint8Array[] = [];
  buf: Uint8Array = new Uint8Array(0);
  start = 0;
  pos = 0;
  bytes = 0;

  reserve(n: number): void {
    if (this.buf.length - this.pos >= n) return;
    this.seal();
    this.buf = new Uint8Array(Math.max(CHUNK_BYTES, n));
    this.start = 0;
    this.pos = 0;
  }

  /** Move the filled part of the open buffer into the chunk list (never copied). */
  seal(): void {
    if (this.pos > this.start) {
      this.chunks.push(this.buf.subarray(this.start, this.pos));
      this.start = this.pos;
    }
  }
}

/**
 * Node's nextTick where there is one; a microtask elsewhere (the browser build). Read
 * through globalThis so bundles for browsers carry no reference to a `process` global.
 */
const nodeProcess = (globalThis as { process?: { nextTick?: (fn: () => void) => void } }).process;
const deferFlush: (fn: () => void) => void =
  typeof nodeProcess?.nextTick === 'function' ? nodeProcess.nextTick.bind(nodeProcess) : queueMicrotask;

/**
 * The shared framer over any byte channel: coalesces outbound frames into large writes,
 * keeps a control lane that overtakes bulk data, honours the channel's backpressure
 * (nothing more is handed to it until `drain`), and decodes inbound frames with a
 * size-limited state machine. A protocol error is reported to the peer with an ERR frame
 * and closes only this connection.
 */
export class FramedTransport {
  readonly info: ChannelInfo;
  private readonly channel: ByteChannel;
  private readonly decoder: FrameDecoder;
  private readonly highWater: number;
  private readonly closeTimeoutMs: number;
  private readonly control = new OutLane();
  private readonly bulk = new OutLane();
  private sink: TransportSink | undefined;
  private blocked = false;
  private flushScheduled = false;
  private closing = false;
  /** channel.end() has been called (once, when a graceful close has flushed). */
  private ended = false;
  private closed = false;
  private wasAboveHighWater = false;
  private closeTimer: ReturnType<typeof setTimeout> | undefined;
  /** Bytes received and frames decoded, for metrics. */
  bytesIn = 0;
  bytesOut = 0;

  constructor(channel: ByteChannel, options: FramedTransportOptions = {}) {
    this.channel = channel;
    this.info = channel.info;
    this.decoder = new FrameDecoder({
      maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      validateHeaders: options.validateHeaders ?? true,
    });
    this.highWater = options.highWaterBytes ?? 8 * 1024 * 1024;
    this.closeTimeoutMs = options.closeTimeoutMs ?? 2000;
  }

  /** Start delivering frames to `sink`. */
  start(sink: TransportSink): void {
    if (this.sink) throw new Error('FramedTransport already started');
    this.sink = sink;
    this.channel.attach({
      data: (chunk) => this.onData(chunk),
      drain: () => this.onChannelDrain(),
      close: (err) => this.onChannelClose(err),
    });
  }

  /** Outbound bytes not yet handed to the channel. */
  get pendingBytes(): number {
    return this.control.bytes + this.bulk.bytes;
  }

  /** False while pending outbound bytes exceed the high-water mark. */
  get writable(): boolean {
    return this.pendingBytes < this.highWater;
  }

  get isClosed(): boolean {
    return this.closed || this.closing;
  }

  /**
   * Queue one frame. Control-type and PRIORITY frames use the control lane unless
   * `lane` says otherwise (a flush PING must stay behind the data it flushes).
   */
  send(init: FrameInit, lane?: Lane): void {
    if (this.closed || this.closing) return;
    const useControl = lane ? lane === 'control' : isControlType(init.type) || ((init.flags ?? 0) & Flag.PRIORITY) !== 0;
    const l = useControl ? this.control : this.bulk;
    const payload = init.payloadImmutable ? (init.payloadFrom?.payload ?? init.payload) : undefined;
    if (payload !== undefined && payload.length >= BY_REFERENCE_BYTES) {
      // Large immutable payload: frame head into the lane, the payload itself as its own
      // chunk right after it — no copy and no 64 KiB+ buffer allocated per frame.
      l.reserve(maxEncodedLength(init) - payload.length);
      const before = l.pos;
      l.pos = writeFrame(l.buf, l.pos, init, true);
      l.bytes += l.pos - before + payload.length;
      l.seal();
      l.chunks.push(payload);
    } else {
      l.reserve(maxEncodedLength(init));
      const before = l.pos;
      l.pos = writeFrame(l.buf, l.pos, init);
      l.bytes += l.pos - before;
    }
    this.noteHighWater();
    if (useControl || l.pos - l.start >= CHUNK_BYTES || l.chunks.length > 0) this.flush();
    else this.scheduleFlush();
  }

  /** Queue an already-encoded frame (or several) on a lane. */
  sendEncoded(bytes: Uint8Array, lane: Lane = 'bulk'): void {
    if (this.closed || this.closing) return;
    const l = lane === 'control' ? this.control : this.bulk;
    l.reserve(bytes.length);
    l.buf.set(bytes, l.pos);
    l.pos += bytes.length;
    l.bytes += bytes.length;
    this.noteHighWater();
    if (lane === 'control' || l.pos - l.start >= CHUNK_BYTES) this.flush();
    else this.scheduleFlush();
  }

  /** Report an error to the peer (ERR on the control lane), then close gracefully. */
  fail(err: PlexusError): void {
    if (this.closed || this.closing) return;
    this.send({ type: FrameType.ERR, payload: encodeUtf8(JSON.stringify(err.toWire())) });
    this.close(err);
  }

  /** Flush what is queued, then close. Destroys the channel if the flush stalls. */
  close(reason?: Error): void {
    if (this.closed || this.closing) return;
    this.closing = true;
    this.closeReason = reason;
    this.flush(); // ends the channel once nothing is pending
    this.closeTimer = setTimeout(() => this.channel.destroy(), this.closeTimeoutMs);
    this.closeTimer.unref?.();
  }

  /** Close immediately. */
  destroy(err?: Error): void {
    if (this.closed) return;
    this.closeReason ??= err;
    this.channel.destroy(err);
  }

  pause(): void {
    this.channel.pause();
  }

  resume(): void {
    this.channel.resume();
  }

  private closeReason: Error | undefined;

  /** Hand queued bytes to the channel: control lane first, until it pushes back. */
  flush(): void {
    this.flushScheduled = false;
    if (this.closed) return;
    while (!this.blocked) {
      const lane = this.control.bytes > 0 ? this.control : this.bulk.bytes > 0 ? this.bulk : undefined;
      if (!lane) break;
      lane.seal();
      const chunk = lane.chunks.shift()!;
      lane.bytes -= chunk.length;
      this.bytesOut += chunk.length;
      if (!this.channel.write(chunk)) this.blocked = true;
    }
    this.checkDrained();
  }

  /** When bytes last arrived (epoch ms); heartbeats read it. */
  lastReceiveAt = Date.now();

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // nextTick runs after the microtasks already queued: replies sent from many promise
    // callbacks in one turn leave in one write instead of one write each.
    deferFlush(() => this.flush());
  }

  /**
   * Remember that `writable` has turned false, as soon as it does: a caller that saw it
   * waits for onDrain, even if the next flush empties the queue in one go.
   */
  private noteHighWater(): void {
    if (this.pendingBytes >= this.highWater) this.wasAboveHighWater = true;
  }

  private checkDrained(): void {
    const pending = this.pendingBytes;
    if (pending >= this.highWater) this.wasAboveHighWater = true;
    else if (this.wasAboveHighWater && pending < this.highWater / 2) {
      this.wasAboveHighWater = false;
      this.sink?.onDrain?.();
    }
    if (this.closing && !this.ended && pending === 0 && !this.blocked) {
      this.ended = true;
      this.channel.end();
    }
  }

  private onChannelDrain(): void {
    this.blocked = false;
    this.flush();
  }

  private onData(chunk: Uint8Array): void {
    if (this.closed) return;
    this.lastReceiveAt = Date.now(); // once per chunk, not per frame: liveness needs no more
    this.bytesIn += chunk.length;
    const err = this.decoder.push(chunk, this.sink!);
    if (err) this.fail(err);
  }

  private onChannelClose(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.control.chunks.length = 0;
    this.bulk.chunks.length = 0;
    this.control.bytes = this.bulk.bytes = 0;
    const reason = this.closeReason ?? err;
    this.sink?.onClose(reason);
  }
}

/** Wrap a channel error as a coded connection error. */
export function connectionLost(cause?: Error): PlexusError {
  return new PlexusError(ErrorCode.CONNECTION_LOST, cause ? `connection lost: ${cause.message}` : 'connection lost', { cause });
}
