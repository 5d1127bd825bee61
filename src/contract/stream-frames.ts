/**
 * Message framing for streaming methods over a Plexus byte stream. Each message is
 * `u32 length (big-endian) · u8 kind · body`, length counting kind + body:
 *
 *   OPEN   caller → server, first: JSON `{ v: 1, headers, timeoutMs }`
 *   ITEM   one value, encoded with the call's codec
 *   END    no more items from this side
 *   ERROR  server → caller: the JSON wire form of the error (instead of END)
 *
 * The byte stream underneath gives ordering, credit flow control and reconnect
 * survival; this layer only cuts it into messages, with a size limit checked before
 * buffering a message.
 */
import type { PlexusStream } from '../client/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { copyBytes } from '../wire/index.js';

/** Message kinds on a method stream. */
export const StreamMessageKind = { OPEN: 1, ITEM: 2, END: 3, ERROR: 4 } as const;
export type StreamMessageKind = (typeof StreamMessageKind)[keyof typeof StreamMessageKind];

/** Largest message (one item) on a method stream: the codecs' 1 MiB decode limit plus room. */
export const MAX_STREAM_MESSAGE_BYTES = 1024 * 1024 + 64 * 1024;

/** The OPEN message's body. */
export interface StreamOpen {
  readonly v: 1;
  readonly headers: Readonly<Record<string, string>>;
  /** Time the caller will wait, in ms from sending (0: no deadline). */
  readonly timeoutMs: number;
}

/** One framed message. */
export interface StreamMessage {
  readonly kind: StreamMessageKind;
  readonly body: Uint8Array;
}

/** Frame one message. */
export function frameMessage(kind: StreamMessageKind, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (body.length + 1 > MAX_STREAM_MESSAGE_BYTES) {
    throw new PlexusError(ErrorCode.PAYLOAD_TOO_LARGE, `stream message of ${body.length} bytes is over the ${MAX_STREAM_MESSAGE_BYTES}-byte limit`);
  }
  const out = new Uint8Array(5 + body.length);
  new DataView(out.buffer).setUint32(0, body.length + 1);
  out[4] = kind;
  out.set(body, 5);
  return out;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** Frame a JSON body. */
export function frameJson(kind: StreamMessageKind, value: unknown): Uint8Array {
  return frameMessage(kind, textEncoder.encode(JSON.stringify(value)));
}

/** Parse a JSON body (PROTOCOL error if it is not JSON). */
export function parseJsonBody(body: Uint8Array): unknown {
  try {
    return JSON.parse(textDecoder.decode(body)) as unknown;
  } catch {
    throw new PlexusError(ErrorCode.PROTOCOL, 'malformed control message on a method stream');
  }
}

/** Check and normalise an OPEN body. */
export function parseOpen(body: Uint8Array): StreamOpen {
  const o = parseJsonBody(body) as Partial<StreamOpen> | null;
  const headers: Record<string, string> = {};
  if (typeof o !== 'object' || o === null || o.v !== 1) throw new PlexusError(ErrorCode.PROTOCOL, 'not a method stream OPEN');
  if (typeof o.headers === 'object' && o.headers !== null) {
    for (const [k, v] of Object.entries(o.headers)) if (typeof v === 'string' && !k.startsWith(':') && k !== '__proto__') headers[k] = v;
  }
  const t = o.timeoutMs;
  const timeoutMs = typeof t === 'number' && Number.isFinite(t) && t >= 0 && t <= 2 ** 31 - 1 ? t : 0;
  return { v: 1, headers, timeoutMs };
}

/** Reads whole messages from a byte stream. */
export class StreamMessageReader {
  private buf: Uint8Array = new Uint8Array(0);
  private eof = false;

  constructor(private readonly stream: PlexusStream) {}

  /** The next message, or null at a clean end of the stream. */
  async next(): Promise<StreamMessage | null> {
    for (;;) {
      if (this.buf.length >= 4) {
        const len = new DataView(this.buf.buffer, this.buf.byteOffset, 4).getUint32(0);
        if (len === 0 || len > MAX_STREAM_MESSAGE_BYTES) {
          throw new PlexusError(ErrorCode.PROTOCOL, `method stream message length ${len} is out of range (1..${MAX_STREAM_MESSAGE_BYTES})`);
        }
        if (this.buf.length >= 4 + len) {
          const kind = this.buf[4] as StreamMessageKind;
          const body = copyBytes(this.buf, 5, 4 + len);
          this.buf = this.buf.subarray(4 + len);
          if (kind < StreamMessageKind.OPEN || kind > StreamMessageKind.ERROR) {
            throw new PlexusError(ErrorCode.PROTOCOL, `unknown method stream message kind ${kind}`);
          }
          return { kind, body };
        }
      }
      if (this.eof) {
        if (this.buf.length > 0) throw new PlexusError(ErrorCode.PROTOCOL, 'method stream ended inside a message');
        return null;
      }
      const chunk = await this.stream.read();
      if (chunk === null) this.eof = true;
      else this.buf = this.buf.length === 0 ? chunk : concat(this.buf, chunk);
    }
  }

  /** Read and discard until the end of the stream. */
  async drain(): Promise<void> {
    while ((await this.next()) !== null);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
