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

const decoder = new TextDecoder();

/** Envelope bytes for `meta` + `payload`. */
export function encodeEnvelope(meta: EnvelopeMeta, payload: Uint8Array): Buffer {
  const o: Record<string, unknown> = { f: meta.from, c: meta.conn, i: meta.id };
  if (meta.reply) o['r'] = meta.reply;
  if (meta.timeoutMs) o['t'] = meta.timeoutMs;
  if (meta.error) o['e'] = 1;
  if (meta.headers && Object.keys(meta.headers).length > 0) o['h'] = meta.headers;
  const json = JSON.stringify(o);
  // Write the JSON straight into the output (no intermediate bytes); byteLength sizes it.
  const jsonLength = Buffer.byteLength(json);
  const out = Buffer.allocUnsafe(PREFIX + jsonLength + payload.length);
  out[0] = MAGIC;
  out[1] = VERSION;
  out.writeUInt32BE(jsonLength, 2);
  out.write(json, PREFIX, 'utf8');
  out.set(payload, PREFIX + jsonLength);
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

/**
 * Encoded header blocks of senders whose messages carry no application headers (the
 * common case), so a stream of messages from one sender encodes its block once.
 */
const senderBlocks = new Map<string, Uint8Array | undefined>();
const MAX_CACHED_SENDERS = 1024;

function headerBlock(meta: EnvelopeMeta | undefined): Uint8Array | undefined {
  if (!meta) return undefined;
  if (meta.headers !== undefined && Object.keys(meta.headers).length > 0) {
    return encodeHeaders({ ...meta.headers, [FROM_HEADER]: meta.from, [CONN_HEADER]: meta.conn });
  }
  const key = `${meta.from}\0${meta.conn}`;
  let block = senderBlocks.get(key);
  if (block === undefined) {
    block = encodeHeaders({ [FROM_HEADER]: meta.from, [CONN_HEADER]: meta.conn });
    if (senderBlocks.size >= MAX_CACHED_SENDERS) senderBlocks.clear();
    senderBlocks.set(key, block);
  }
  return block;
}

/** A received envelope on `subject` as a Plexus `Message`. */
export function toMessage(subject: string, env: Envelope, replier: ReplyChannel | undefined): Message {
  const meta = env.meta;
  return new Message({ subject, reply: meta?.reply ?? '', payload: env.payload, headers: headerBlock(meta) }, meta?.timeoutMs ?? 0, replier);
}
