/**
 * Redis pub/sub carries only bytes, so Plexus metadata travels in a small envelope in
 * front of the payload: magic `0x50 0x01`, a u32 (big endian) length, a JSON object of
 * metadata, then the payload bytes. A message without the magic (published by a plain
 * Redis client) is taken as a bare payload with no sender, headers or id.
 */
import { Message, type ReplyChannel } from '../../client/message.js';
import { CONN_HEADER, FROM_HEADER, encodeHeaders } from '../../wire/index.js';

const MAGIC = 0x50;
const VERSION = 1;
const PREFIX = 6;

/** The Plexus metadata of one Redis message. */
export interface EnvelopeMeta {
  /** Sender identity, asserted by the sending adapter (Redis stamps nothing). */
  readonly from: string;
  /** Sender's connection id. */
  readonly conn: string;
  /** Unique message id (`<conn>.<seq>`): queue-group members claim a message by it. */
  readonly id: string;
  readonly reply?: string | undefined;
  /** A request's timeout in ms, so the responder's `ctx.signal` fires at the caller's deadline. */
  readonly timeoutMs?: number | undefined;
  /** On a reply: the payload is an error's JSON wire form. */
  readonly error?: boolean | undefined;
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

/** A decoded message: metadata (undefined for a bare non-Plexus payload) and payload. */
export interface Envelope {
  readonly meta: EnvelopeMeta | undefined;
  readonly payload: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Envelope bytes for `meta` + `payload`. */
export function encodeEnvelope(meta: EnvelopeMeta, payload: Uint8Array): Buffer {
  const json = encoder.encode(
    JSON.stringify({
      f: meta.from,
      c: meta.conn,
      i: meta.id,
      ...(meta.reply ? { r: meta.reply } : {}),
      ...(meta.timeoutMs ? { t: meta.timeoutMs } : {}),
      ...(meta.error ? { e: 1 } : {}),
      ...(meta.headers && Object.keys(meta.headers).length > 0 ? { h: meta.headers } : {}),
    }),
  );
  const out = Buffer.allocUnsafe(PREFIX + json.length + payload.length);
  out[0] = MAGIC;
  out[1] = VERSION;
  out.writeUInt32BE(json.length, 2);
  out.set(json, PREFIX);
  out.set(payload, PREFIX + json.length);
  return out;
}

/** Split a received Redis message into metadata and payload; never throws. */
export function decodeEnvelope(buf: Uint8Array): Envelope {
  if (buf.length < PREFIX || buf[0] !== MAGIC || buf[1] !== VERSION) return { meta: undefined, payload: buf };
  const len = ((buf[2]! << 24) >>> 0) + (buf[3]! << 16) + (buf[4]! << 8) + buf[5]!;
  if (PREFIX + len > buf.length) return { meta: undefined, payload: buf };
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(buf.subarray(PREFIX, PREFIX + len)));
  } catch {
    return { meta: undefined, payload: buf };
  }
  const meta = parseMeta(raw);
  return meta ? { meta, payload: buf.subarray(PREFIX + len) } : { meta: undefined, payload: buf };
}

function parseMeta(raw: unknown): EnvelopeMeta | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const o = raw as Record<string, unknown>;
  if (typeof o['f'] !== 'string' || typeof o['c'] !== 'string' || typeof o['i'] !== 'string') return undefined;
  const headers = stringRecord(o['h']);
  const t = o['t'];
  return {
    from: o['f'],
    conn: o['c'],
    id: o['i'],
    reply: typeof o['r'] === 'string' ? o['r'] : undefined,
    timeoutMs: typeof t === 'number' && Number.isSafeInteger(t) && t > 0 ? t : undefined,
    error: o['e'] === 1,
    headers,
  };
}

function stringRecord(v: unknown): Record<string, string> | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, s] of Object.entries(v)) if (typeof s === 'string' && !k.startsWith(':')) out[k] = s;
  return out;
}

/** A received envelope on `subject` as a Plexus `Message`. */
export function toMessage(subject: string, env: Envelope, replier: ReplyChannel | undefined): Message {
  const meta = env.meta;
  const record: Record<string, string> = { ...(meta?.headers ?? {}) };
  if (meta) {
    record[FROM_HEADER] = meta.from;
    record[CONN_HEADER] = meta.conn;
  }
  return new Message(
    { subject, reply: meta?.reply ?? '', payload: env.payload, headers: encodeHeaders(record) },
    meta?.timeoutMs ?? 0,
    replier,
  );
}
