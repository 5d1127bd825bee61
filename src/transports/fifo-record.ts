/**
 * Records of the `fifo://` one-way feed: how many writers share one named pipe without
 * their bytes mixing.
 *
 * A pipe only promises that a `write()` of at most `PIPE_BUF` bytes lands in one piece
 * (POSIX; 4096 on Linux). So a writer cuts every message into records of at most that
 * size, each written with one `write()`; the reader's byte stream is then a sequence of
 * whole records from different writers, and each record names its writer (pid + a random
 * id per writer) and where its bytes go in that writer's message. The reader reassembles
 * per writer. Nothing here touches the file system: the decoder is a state machine fed
 * bytes, so it tests without pipes.
 */
import { platform } from 'node:os';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { copyBytes } from '../wire/index.js';

/** Bytes a single `write()` to a pipe is guaranteed not to interleave with others (PIPE_BUF). */
export const FIFO_ATOMIC_BYTES = platform() === 'linux' ? 4096 : 512;

/** Fixed record header: magic, version, kind, pid, writer id, seq, message bytes, offset, chunk bytes. */
export const FIFO_RECORD_HEADER_BYTES = 28;

/** Largest slice of a message one record carries. */
export const FIFO_CHUNK_BYTES = FIFO_ATOMIC_BYTES - FIFO_RECORD_HEADER_BYTES;

/** Longest writer name, in UTF-8 bytes. */
export const FIFO_MAX_NAME_BYTES = 255;

/** Default largest message, either side. */
export const DEFAULT_FIFO_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

const MAGIC_0 = 0x50; // 'P'
const MAGIC_1 = 0x46; // 'F'
const VERSION = 1;

/** Record kinds. */
export const FifoRecordKind = {
  /** The writer introduces itself: the payload is its name. */
  HELLO: 1,
  /** A slice of a message. */
  DATA: 2,
  /** The writer is done (a clean close). */
  BYE: 3,
} as const;
export type FifoRecordKind = (typeof FifoRecordKind)[keyof typeof FifoRecordKind];

/** Who wrote a message. `pid` is what the writer says; `id` tells apart writers of one process. */
export interface FifoWriterIdentity {
  readonly pid: number;
  readonly id: number;
  /** The name the writer gave (empty if its HELLO was not seen). */
  readonly name: string;
}

/** One reassembled message. */
export interface FifoMessage {
  readonly writer: FifoWriterIdentity;
  readonly data: Uint8Array;
}

/** Encodes one writer's records; keeps its sequence number. */
export class FifoRecordEncoder {
  private seq = 0;

  constructor(
    readonly pid: number,
    readonly id: number,
  ) {}

  /** The HELLO record carrying `name`. */
  hello(name: string): Uint8Array {
    const bytes = Buffer.from(name, 'utf8');
    if (bytes.length > FIFO_MAX_NAME_BYTES) {
      throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `fifo writer name is ${bytes.length} bytes; at most ${FIFO_MAX_NAME_BYTES}`);
    }
    return this.record(FifoRecordKind.HELLO, bytes.length, 0, bytes);
  }

  bye(): Uint8Array {
    return this.record(FifoRecordKind.BYE, 0, 0, new Uint8Array(0));
  }

  /** The DATA records of one message, each at most FIFO_ATOMIC_BYTES. */
  message(data: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let offset = 0;
    do {
      const n = Math.min(FIFO_CHUNK_BYTES, data.length - offset);
      out.push(this.record(FifoRecordKind.DATA, data.length, offset, data.subarray(offset, offset + n)));
      offset += n;
    } while (offset < data.length);
    return out;
  }

  private record(kind: FifoRecordKind, messageBytes: number, offset: number, chunk: Uint8Array): Uint8Array {
    const rec = new Uint8Array(FIFO_RECORD_HEADER_BYTES + chunk.length);
    const v = new DataView(rec.buffer);
    rec[0] = MAGIC_0;
    rec[1] = MAGIC_1;
    rec[2] = VERSION;
    rec[3] = kind;
    v.setUint32(4, this.pid, true);
    v.setUint32(8, this.id, true);
    v.setUint32(12, this.seq, true);
    this.seq = (this.seq + 1) >>> 0;
    v.setUint32(16, messageBytes, true);
    v.setUint32(20, offset, true);
    v.setUint16(24, chunk.length, true);
    rec.set(chunk, FIFO_RECORD_HEADER_BYTES);
    return rec;
  }
}

/** What the decoder counted. */
export interface FifoDecoderStats {
  records: number;
  messages: number;
  /** Writers that sent HELLO. */
  writersSeen: number;
  /** Messages dropped because they were cut short (a writer died or skipped a record). */
  incomplete: number;
  /** Records out of sequence for their writer (never happens with whole-record writes). */
  sequenceGaps: number;
  /** Messages dropped for being larger than maxMessageBytes. */
  tooLarge: number;
}

/** Where the decoder delivers. */
export interface FifoDecoderSink {
  message(msg: FifoMessage): void;
  writerJoined?(writer: FifoWriterIdentity): void;
  writerLeft?(writer: FifoWriterIdentity): void;
}

interface WriterState {
  identity: FifoWriterIdentity;
  nextSeq: number | undefined;
  /** The message being put together, or undefined between messages. */
  partial: Uint8Array | undefined;
  filled: number;
  /** Skipping the rest of a message too large to keep. */
  skipping: boolean;
}

/** Options for FifoRecordDecoder. */
export interface FifoDecoderOptions {
  /** @default 16 MiB */
  readonly maxMessageBytes?: number;
  /** Writers tracked at once; past it the longest-silent one is forgotten. @default 4096 */
  readonly maxWriters?: number;
}

/**
 * Reassembles messages from a byte stream of records. `push` throws
 * PLEXUS_ERR_MALFORMED_FRAME when the stream is not records (bad magic or version, a
 * chunk longer than a record can be): after that nothing can be trusted to line up.
 */
export class FifoRecordDecoder {
  readonly stats: FifoDecoderStats = { records: 0, messages: 0, writersSeen: 0, incomplete: 0, sequenceGaps: 0, tooLarge: 0 };
  private readonly writers = new Map<string, WriterState>();
  private pending: Uint8Array = new Uint8Array(0);
  private readonly maxMessageBytes: number;
  private readonly maxWriters: number;

  constructor(
    private readonly sink: FifoDecoderSink,
    options: FifoDecoderOptions = {},
  ) {
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_FIFO_MAX_MESSAGE_BYTES;
    this.maxWriters = options.maxWriters ?? 4096;
  }

  /** Bytes that are not yet a whole record. */
  get bufferedBytes(): number {
    return this.pending.length;
  }

  push(chunk: Uint8Array): void {
    let buf = chunk;
    if (this.pending.length > 0) {
      buf = new Uint8Array(this.pending.length + chunk.length);
      buf.set(this.pending);
      buf.set(chunk, this.pending.length);
    }
    let at = 0;
    while (buf.length - at >= FIFO_RECORD_HEADER_BYTES) {
      if (buf[at] !== MAGIC_0 || buf[at + 1] !== MAGIC_1 || buf[at + 2] !== VERSION) {
        throw new PlexusError(ErrorCode.MALFORMED_FRAME, 'fifo stream is not Plexus fifo records (bad magic or version)');
      }
      const v = new DataView(buf.buffer, buf.byteOffset + at, FIFO_RECORD_HEADER_BYTES);
      const chunkBytes = v.getUint16(24, true);
      if (chunkBytes > FIFO_CHUNK_BYTES) {
        throw new PlexusError(ErrorCode.MALFORMED_FRAME, `fifo record claims ${chunkBytes} bytes; at most ${FIFO_CHUNK_BYTES}`);
      }
      const end = at + FIFO_RECORD_HEADER_BYTES + chunkBytes;
      if (end > buf.length) break;
      this.record(buf[at + 3]!, v, buf.subarray(at + FIFO_RECORD_HEADER_BYTES, end));
      at = end;
    }
    this.pending = at === buf.length ? new Uint8Array(0) : copyBytes(buf, at);
  }

  /** Every writer is gone (EOF): drop what was half-received. */
  end(): void {
    for (const w of this.writers.values()) {
      if (w.partial) this.stats.incomplete++;
      this.sink.writerLeft?.(w.identity);
    }
    this.writers.clear();
    if (this.pending.length > 0) this.stats.incomplete++;
    this.pending = new Uint8Array(0);
  }

  private record(kind: number, v: DataView, chunk: Uint8Array): void {
    this.stats.records++;
    const pid = v.getUint32(4, true);
    const id = v.getUint32(8, true);
    const seq = v.getUint32(12, true);
    const key = `${pid}:${id}`;
    let w = this.writers.get(key);
    if (kind === FifoRecordKind.HELLO) {
      if (w) this.dropWriter(key, w);
      w = this.addWriter(key, { pid, id, name: Buffer.from(chunk).toString('utf8') });
      this.stats.writersSeen++;
      this.sink.writerJoined?.(w.identity);
    }
    // A writer first seen mid-stream (its HELLO came before this reader opened).
    w ??= this.addWriter(key, { pid, id, name: '' });
    // Move to the back: the Map's order is then "longest silent first".
    this.writers.delete(key);
    this.writers.set(key, w);
    if (w.nextSeq !== undefined && seq !== w.nextSeq) {
      this.stats.sequenceGaps++;
      this.abandon(w);
    }
    w.nextSeq = (seq + 1) >>> 0;
    if (kind === FifoRecordKind.BYE) {
      this.dropWriter(key, w);
      return;
    }
    if (kind === FifoRecordKind.DATA) this.data(w, v.getUint32(16, true), v.getUint32(20, true), chunk);
    else if (kind !== FifoRecordKind.HELLO) {
      throw new PlexusError(ErrorCode.MALFORMED_FRAME, `unknown fifo record kind ${kind}`);
    }
  }

  private data(w: WriterState, total: number, offset: number, chunk: Uint8Array): void {
    if (offset === 0) {
      this.abandon(w); // a new message while one was open: the old one was cut short
      if (total > this.maxMessageBytes) {
        this.stats.tooLarge++;
        w.skipping = true;
      } else {
        w.partial = new Uint8Array(total);
        w.filled = 0;
      }
    }
    if (w.skipping) {
      if (offset + chunk.length >= total) w.skipping = false;
      return;
    }
    if (!w.partial || offset !== w.filled || total !== w.partial.length || offset + chunk.length > total) {
      // A slice that does not continue the open message: drop both, skip to its end.
      if (w.partial) this.abandon(w);
      else this.stats.incomplete++;
      w.skipping = offset + chunk.length < total;
      return;
    }
    w.partial.set(chunk, offset);
    w.filled += chunk.length;
    if (w.filled === total) {
      const data = w.partial;
      w.partial = undefined;
      this.stats.messages++;
      this.sink.message({ writer: w.identity, data });
    }
  }

  private abandon(w: WriterState): void {
    if (w.partial) this.stats.incomplete++;
    w.partial = undefined;
    w.filled = 0;
    w.skipping = false;
  }

  private addWriter(key: string, identity: FifoWriterIdentity): WriterState {
    if (this.writers.size >= this.maxWriters) {
      const [oldestKey, oldest] = this.writers.entries().next().value as [string, WriterState];
      this.dropWriter(oldestKey, oldest);
    }
    const w: WriterState = { identity, nextSeq: undefined, partial: undefined, filled: 0, skipping: false };
    this.writers.set(key, w);
    return w;
  }

  private dropWriter(key: string, w: WriterState): void {
    this.abandon(w);
    this.writers.delete(key);
    this.sink.writerLeft?.(w.identity);
  }
}
