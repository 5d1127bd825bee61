import { ErrorCode, PlexusError } from '../errors/index.js';
import { HEADER_BYTES, KNOWN_FLAGS, MIN_BODY_BYTES, frameTypeName, isKnownFrameType, type FrameType } from './constants.js';
import type { Frame } from './frame.js';
import { validateHeaderBlock } from './headers.js';
import { copyBytes } from './bytes.js';
import { readUtf8 } from './utf8.js';

/** Receives frames from a decoder, in order. */
export interface FrameSink {
  onFrame(frame: Frame): void;
}

/** Options for {@link FrameDecoder}. */
export interface FrameDecoderOptions {
  /**
   * Largest frame accepted, counting the 4-byte length prefix. Checked against the
   * length prefix before anything is allocated for the frame. Required: there is no
   * safe default for every caller.
   */
  readonly maxFrameBytes: number;
  /**
   * Check header blocks (structure and UTF-8) while decoding. A broker must, since it
   * forwards them; a client may trust its broker, which validated every block it relays
   * and decodes headers lazily and safely anyway. @default true
   */
  readonly validateHeaders?: boolean;
}

const enum State {
  Length,
  Body,
  Failed,
}

/**
 * Incremental decoder for the length-prefixed frame stream (docs/protocol.md).
 *
 * A small explicit state machine: feed it chunks of any size with `push`; each complete
 * frame goes to the sink; an incomplete frame is simply a state. Malformed input returns
 * a coded `PlexusError` (and the decoder stays failed) — it never throws for bad bytes,
 * so one hostile peer costs only its own connection.
 */
export class FrameDecoder {
  private readonly max: number;
  private state = State.Length;
  /** Partial length prefix or partial body, assembled across chunks. */
  private partial: Uint8Array | undefined;
  private filled = 0;
  private lenBytes = new Uint8Array(4);
  private error: PlexusError | undefined;
  private readonly subjects = new SubjectCache();
  private readonly validateHeaders: boolean;

  constructor(options: FrameDecoderOptions) {
    if (!(options.maxFrameBytes >= HEADER_BYTES)) throw new RangeError('maxFrameBytes must be at least 20');
    this.max = options.maxFrameBytes;
    this.validateHeaders = options.validateHeaders ?? true;
  }

  /** Bytes held for an incomplete frame (0 between frames). */
  get buffered(): number {
    return this.state === State.Body ? this.filled : this.state === State.Length ? this.filled : 0;
  }

  /** The error that failed this decoder, if any. */
  get failure(): PlexusError | undefined {
    return this.error;
  }

  /**
   * Feed bytes. Emits every complete frame to `sink`. Returns an error (and stops) on
   * malformed input; returns undefined otherwise.
   */
  push(chunk: Uint8Array, sink: FrameSink): PlexusError | undefined {
    if (this.state === State.Failed) return this.error;
    let pos = 0;
    const n = chunk.length;
    while (pos < n) {
      if (this.state === State.Length) {
        if (this.filled === 0 && n - pos >= 4) {
          // Fast path: a whole frame (or at least its prefix) inside this chunk.
          const body = readU32(chunk, pos);
          const err = this.checkLength(body);
          if (err) return this.fail(err);
          const total = body + 4;
          if (n - pos >= total) {
            const e = this.emit(chunk, pos, pos + total, sink);
            if (e) return this.fail(e);
            pos += total;
            continue;
          }
          this.partial = new Uint8Array(total);
          this.partial.set(chunk.subarray(pos), 0);
          this.filled = n - pos;
          this.state = State.Body;
          return undefined;
        }
        // Slow path: the length prefix is split across chunks.
        while (this.filled < 4 && pos < n) this.lenBytes[this.filled++] = chunk[pos++]!;
        if (this.filled < 4) return undefined;
        const body = readU32(this.lenBytes, 0);
        const err = this.checkLength(body);
        if (err) return this.fail(err);
        this.partial = new Uint8Array(body + 4);
        this.partial.set(this.lenBytes, 0);
        this.state = State.Body;
        continue;
      }
      // State.Body: filling `partial`.
      const buf = this.partial!;
      const take = Math.min(buf.length - this.filled, n - pos);
      buf.set(chunk.subarray(pos, pos + take), this.filled);
      this.filled += take;
      pos += take;
      if (this.filled === buf.length) {
        this.partial = undefined;
        this.filled = 0;
        this.state = State.Length;
        const e = this.emit(buf, 0, buf.length, sink);
        if (e) return this.fail(e);
      }
    }
    return undefined;
  }

  private checkLength(body: number): PlexusError | undefined {
    if (body < MIN_BODY_BYTES) {
      return new PlexusError(ErrorCode.MALFORMED_FRAME, `frame length ${body} is below the minimum ${MIN_BODY_BYTES}`);
    }
    if (body + 4 > this.max) {
      return new PlexusError(ErrorCode.FRAME_TOO_LARGE, `frame of ${body + 4} bytes exceeds the limit of ${this.max}`);
    }
    return undefined;
  }

  private fail(err: PlexusError): PlexusError {
    this.state = State.Failed;
    this.partial = undefined;
    this.error = err;
    return err;
  }

  /** Parse one whole frame (`buf[start, end)`) and hand it to the sink. */
  private emit(buf: Uint8Array, start: number, end: number, sink: FrameSink): PlexusError | undefined {
    const frame = parseFrameAt(buf, start, end, this.subjects, this.validateHeaders);
    if (frame instanceof PlexusError) return frame;
    sink.onFrame(frame);
    return undefined;
  }
}

/**
 * Remembers the last subject decoded on a connection: hot streams repeat one subject, and
 * comparing bytes is several times cheaper than building the string again.
 */
class SubjectCache {
  private bytes: Uint8Array = new Uint8Array(0);
  private text = '';

  decode(buf: Uint8Array, start: number, end: number): string | undefined {
    const n = end - start;
    const last = this.bytes;
    if (last.length === n) {
      let same = true;
      for (let i = 0; i < n; i++) {
        if (last[i] !== buf[start + i]) {
          same = false;
          break;
        }
      }
      if (same) return this.text;
    }
    const text = readUtf8(buf, start, end);
    if (text !== undefined && n <= 256) {
      this.bytes = copyBytes(buf, start, end);
      this.text = text;
    }
    return text;
  }
}

/** A plain Uint8Array view (not a Node Buffer: its subarray is slower to make). */
function view(buf: Uint8Array, start: number, end: number): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset + start, end - start);
}

/** Parse exactly one frame occupying all of `bytes`. Returns a coded error if malformed. */
export function parseFrame(bytes: Uint8Array): Frame | PlexusError {
  return parseFrameAt(bytes, 0, bytes.length, undefined, true);
}

function parseFrameAt(
  buf: Uint8Array,
  start: number,
  end: number,
  subjects: SubjectCache | undefined,
  validateHeaders: boolean,
): Frame | PlexusError {
  const len = end - start;
  // The decoder always passes a consistent frame; direct callers may not.
  if (len < HEADER_BYTES || readU32(buf, start) !== len - 4) {
    return new PlexusError(ErrorCode.MALFORMED_FRAME, `length prefix does not match the ${len}-byte frame`);
  }
  const type = buf[start + 4]!;
  const flags = buf[start + 5]!;
  if (!isKnownFrameType(type)) {
    return new PlexusError(ErrorCode.UNKNOWN_FRAME_TYPE, `unknown frame type ${frameTypeName(type)}`);
  }
  if ((flags & ~KNOWN_FLAGS) !== 0) {
    return new PlexusError(ErrorCode.MALFORMED_FRAME, `unknown flag bits 0x${flags.toString(16)} in ${frameTypeName(type)}`);
  }
  const sl = (buf[start + 14]! << 8) | buf[start + 15]!;
  const rl = (buf[start + 16]! << 8) | buf[start + 17]!;
  const hl = (buf[start + 18]! << 8) | buf[start + 19]!;
  const subjectStart = start + HEADER_BYTES;
  const subjectEnd = subjectStart + sl;
  const replyEnd = subjectEnd + rl;
  const headersEnd = replyEnd + hl;
  if (headersEnd > end) {
    return new PlexusError(ErrorCode.MALFORMED_FRAME, `${frameTypeName(type)} field lengths exceed the frame`);
  }
  const subject =
    sl === 0 ? '' : subjects ? subjects.decode(buf, subjectStart, subjectEnd) : readUtf8(buf, subjectStart, subjectEnd);
  const reply = rl === 0 ? '' : readUtf8(buf, subjectEnd, replyEnd);
  if (subject === undefined || reply === undefined) {
    return new PlexusError(ErrorCode.MALFORMED_FRAME, `${frameTypeName(type)} subject is not valid UTF-8`);
  }
  let headers: Uint8Array | undefined;
  if (hl > 0 && validateHeaders) {
    headers = view(buf, replyEnd, headersEnd);
    if (!validateHeaderBlock(headers)) {
      return new PlexusError(ErrorCode.MALFORMED_FRAME, `${frameTypeName(type)} header block is malformed`);
    }
  }
  return new DecodedFrame(
    type,
    flags,
    readU32(buf, start + 6),
    readU32(buf, start + 10),
    subject,
    reply,
    headers,
    buf,
    subjectStart,
    sl,
    rl,
    headersEnd,
    end,
  );
}

/**
 * A decoded frame whose payload view (and, when headers were not validated, header view)
 * is made only if someone reads it: a router copies from `raw`, and most receivers never
 * look at the broker's sender stamp.
 */
class DecodedFrame implements Frame {
  private payloadView: Uint8Array | undefined;

  constructor(
    readonly type: FrameType,
    readonly flags: number,
    readonly id: number,
    readonly aux: number,
    readonly subject: string,
    readonly reply: string,
    private headersView: Uint8Array | undefined,
    readonly raw: Uint8Array,
    readonly rawNamesStart: number,
    readonly rawSubjectBytes: number,
    readonly rawReplyBytes: number,
    readonly rawStart: number,
    readonly rawEnd: number,
  ) {}

  get headers(): Uint8Array | undefined {
    const headersStart = this.rawNamesStart + this.rawSubjectBytes + this.rawReplyBytes;
    if (this.headersView === undefined && this.rawStart > headersStart) {
      this.headersView = view(this.raw, headersStart, this.rawStart);
    }
    return this.headersView;
  }

  get payload(): Uint8Array {
    return (this.payloadView ??= view(this.raw, this.rawStart, this.rawEnd));
  }
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}
