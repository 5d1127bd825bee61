/**
 * Fetch (`$PLX.DS.CONSUMER.NEXT`) and stream-read requests: parsing, size budgets, and
 * the reply in either format — JSON with base64 payloads (the default) or the binary
 * batch (`binary: true`, batch-format.ts), which carries payloads as they are.
 */
import type { StoredRecord } from '../store/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { FROM_HEADER, decodeHeaders } from '../wire/index.js';
import { encodeBatch } from './batch-format.js';
import { toWire, userHeaders, wireMeta, type Claimed } from './claim.js';
import { MAX_BATCH, MAX_EXPIRES_MS, type WireDurableMessage } from './config.js';
import type { Consumer, DurableStream } from './stream.js';

/** Room left in a binary reply beyond claim's cost estimate (which already counts metadata). */
const REPLY_SLACK = 2048;
/** Room a stored message leaves for its metadata (subject, sender, headers counted twice by the caller; ack subject, numbers). */
const STORE_SLACK = 4096;

/** A parsed fetch request. */
export interface FetchRequest {
  readonly batch: number;
  readonly expiresMs: number;
  readonly maxBytes: number;
  readonly binary: boolean;
}

function bad(message: string): PlexusError {
  return new PlexusError(ErrorCode.INVALID_ARGUMENT, message);
}

function intIn(v: unknown, dflt: number, min: number, max: number, what: string): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw bad(`${what} must be an integer from ${min} to ${max}`);
  return v;
}

export function parseFetchRequest(body: unknown): FetchRequest {
  const o = (body ?? {}) as { batch?: unknown; expiresMs?: unknown; maxBytes?: unknown; binary?: unknown };
  return {
    batch: intIn(o.batch, 1, 1, MAX_BATCH, 'batch'),
    expiresMs: intIn(o.expiresMs, 0, 0, MAX_EXPIRES_MS, 'expiresMs'),
    maxBytes: o.maxBytes === undefined ? Infinity : intIn(o.maxBytes, 0, 1, Number.MAX_SAFE_INTEGER, 'maxBytes'),
    binary: o.binary === true,
  };
}

/** Largest message (payload plus its costed headers) a stream stores: one must fit a binary reply. */
export function storeBudget(maxPayload: number): number {
  return maxPayload - STORE_SLACK;
}

/** Bytes of messages one reply carries (claim's cost estimate), by format. */
export function replyBudget(maxPayload: number, binary: boolean): number {
  return binary ? maxPayload - REPLY_SLACK : Math.floor(((maxPayload - 4096) * 3) / 4) - 4096;
}

/**
 * The reply for claimed messages. A JSON reply that would not fit the broker's maximum
 * payload is `PLEXUS_ERR_PAYLOAD_TOO_LARGE` (ask with `binary: true`); the caller gives
 * the messages back.
 */
export function fetchReply(st: DurableStream, c: Consumer, out: readonly Claimed[], binary: boolean, maxPayload: number): string | Uint8Array {
  if (binary) {
    return encodeBatch(out.map((m) => ({ meta: wireMeta(st, c, m), data: m.rec.payload })));
  }
  const json = JSON.stringify(out.map((m) => toWire(st, c, m)));
  if (json.length > maxPayload - 1024) {
    throw new PlexusError(ErrorCode.PAYLOAD_TOO_LARGE, 'the message is too large for a JSON fetch reply: fetch with binary: true', {
      details: { bytes: json.length, max: maxPayload },
    });
  }
  return json;
}

/** The reply to `$PLX.DS.STREAM.READ` for stored records. */
export function readReply(recs: readonly StoredRecord[], binary: boolean): string | Uint8Array {
  const metas = recs.map((rec) => {
    const headers = decodeHeaders(rec.headers) ?? {};
    return {
      seq: rec.seq,
      subject: rec.subject,
      headers: userHeaders(headers),
      from: headers[FROM_HEADER] ?? '',
      timestamp: rec.timestamp,
      deliveryCount: 0,
      ackSubject: '',
    };
  });
  if (binary) return encodeBatch(recs.map((rec, i) => ({ meta: metas[i]!, data: rec.payload })));
  return JSON.stringify(
    recs.map((rec, i): WireDurableMessage => {
      const p = rec.payload;
      return { ...metas[i]!, data: Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString('base64') };
    }),
  );
}
