/**
 * Claiming messages for a consumer: what a fetch or a push session hands out next.
 * Expired deliveries (and nak'ed or due delayed messages) first, then new records from
 * the cursor; delayed records are held back in the pending set until due, and records
 * past their TTL are dropped. Call with the consumer's lock held.
 */
import type { StoredRecord } from '../store/index.js';
import { FROM_HEADER, RESERVED_PREFIX, decodeHeaders } from '../wire/index.js';
import { DS, MAX_SCHEDULED, type PushMeta, type WireDurableMessage } from './config.js';
import { scheduleOf } from './schedule.js';
import type { Consumer, DurableStream } from './stream.js';

/** Most new records one claim reads past (filtered, delayed or expired) before it yields. */
const SCAN_LIMIT = 4096;

/** One message handed out. */
export interface Claimed {
  readonly rec: StoredRecord;
  /** Its headers, decoded (reserved ones included). */
  readonly headers: Record<string, string>;
  readonly count: number;
}

export interface ClaimResult {
  readonly out: Claimed[];
  /** More new records may be readable at once (the scan limit was reached). */
  readonly more: boolean;
}

/** Rough bytes a message costs in a reply or push. */
function cost(r: StoredRecord): number {
  return r.payload.length + 2 * ((r.headers?.length ?? 0) + r.subject.length) + 512;
}

/**
 * Hand out up to `batch` messages within about `maxBytes` (always at least one), save
 * the consumer state before returning them, and apply work-queue retention when only
 * the cursor moved.
 */
export async function claim(st: DurableStream, c: Consumer, batch: number, maxBytes: number): Promise<ClaimResult> {
  const now = Date.now();
  let bytes = 0;
  let changed = false;
  const out: Claimed[] = [];
  const full = (r: StoredRecord): boolean => out.length > 0 && bytes + cost(r) > maxBytes;
  for (const [seq, p] of c.pending) {
    if (out.length >= batch) break;
    if (p.deadline > now || p.count >= c.config.maxDeliver) continue;
    if (p.count === 0 && c.outstanding >= c.config.maxAckPending) continue; // a due delayed message is a new delivery
    const rec = await st.log.read(seq);
    // Acked (or termed) while the read was in flight: it must not go out again.
    if (c.pending.get(seq) !== p) continue;
    const headers = rec ? (decodeHeaders(rec.headers) ?? {}) : {};
    if (!rec || scheduleOf(headers).expiresAt <= now) {
      c.remove(seq); // removed by retention, or its TTL passed: never delivered again
      changed = true;
      continue;
    }
    if (full(rec)) break;
    c.deliver(p, now);
    bytes += cost(rec);
    out.push({ rec, headers, count: p.count });
  }
  const first = st.log.firstSeq;
  if (c.cursor < first - 1) c.cursor = first - 1;
  let moved = false;
  let scanned = 0;
  let stop = false;
  while (!stop && out.length < batch && c.outstanding < c.config.maxAckPending && c.cursor < st.log.lastSeq) {
    if (scanned >= SCAN_LIMIT || c.scheduled >= MAX_SCHEDULED) break;
    const recs = await st.log.readRange(c.cursor + 1, { maxRecords: Math.min(1024, Math.max(batch - out.length, 64)), maxBytes: Math.max(1, maxBytes - bytes) });
    if (recs.length === 0) break;
    for (const rec of recs) {
      if (out.length >= batch || c.outstanding >= c.config.maxAckPending || full(rec) || c.scheduled >= MAX_SCHEDULED) {
        stop = true;
        break;
      }
      c.cursor = rec.seq;
      moved = true;
      scanned++;
      if (!c.matches(rec.subject)) continue;
      const headers = decodeHeaders(rec.headers) ?? {};
      const sch = scheduleOf(headers);
      if (sch.expiresAt <= now) continue; // past its TTL: dropped like a filtered one
      if (sch.deliverAt > now) {
        c.schedule(rec.seq, sch.deliverAt);
        continue;
      }
      c.pending.set(rec.seq, { count: 1, deadline: now + c.config.ackWaitMs });
      bytes += cost(rec);
      out.push({ rec, headers, count: 1 });
    }
  }
  // Deliveries are saved before they are handed out, so delivery counts (maxDeliver)
  // survive a crash; a delivery whose save did not finish is simply delivered again.
  // When the save fails (a full disk), they are handed out anyway: reads must keep
  // working while writes cannot, and the cost is only that a crash before the next
  // successful save undercounts these deliveries (the unsaved state is saved with it).
  if (out.length > 0 || moved || changed) await c.writer.save().catch(() => undefined);
  if ((moved && out.length === 0) || changed) await st.applyWorkqueue();
  // Acks are applied without the consumer lock, so one may have landed during the
  // awaits above: hand out only what is still pending.
  return {
    out: out.filter((m) => c.pending.get(m.rec.seq)?.count === m.count),
    more: scanned >= SCAN_LIMIT && c.cursor < st.log.lastSeq && c.scheduled < MAX_SCHEDULED,
  };
}

/** The subject a message's ack verbs go to. */
export function ackSubjectOf(st: DurableStream, c: Consumer, seq: number, count: number): string {
  return `${DS.ACK}.${c.config.name}.${seq}.${count}.${st.config.name}`;
}

/** The user's headers (reserved ones left out). */
export function userHeaders(all: Readonly<Record<string, string>>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const k of Object.keys(all)) if (!k.startsWith(RESERVED_PREFIX)) headers[k] = all[k]!;
  return headers;
}

/** A claimed message's metadata as a fetch reply carries it (everything but the payload). */
export function wireMeta(st: DurableStream, c: Consumer, m: Claimed): Omit<WireDurableMessage, 'data'> {
  return {
    seq: m.rec.seq,
    subject: m.rec.subject,
    headers: userHeaders(m.headers),
    from: m.headers[FROM_HEADER] ?? '',
    timestamp: m.rec.timestamp,
    deliveryCount: m.count,
    ackSubject: ackSubjectOf(st, c, m.rec.seq, m.count),
  };
}

/** A claimed message as a JSON fetch reply carries it (payload base64). */
export function toWire(st: DurableStream, c: Consumer, m: Claimed): WireDurableMessage {
  const p = m.rec.payload;
  return { ...wireMeta(st, c, m), data: Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString('base64') };
}

/** Make claimed messages that never reached anyone due again at once (their delivery count stays). */
export function giveBack(st: DurableStream, c: Consumer, out: readonly Claimed[]): void {
  const now = Date.now();
  for (const m of out) {
    const p = c.pending.get(m.rec.seq);
    if (p && p.count === m.count) p.deadline = now;
  }
  if (out.length > 0) st.wake();
}

/** A claimed message's delivery metadata, as a push carries it in `ds-meta`. */
export function toMeta(st: DurableStream, c: Consumer, m: Claimed): PushMeta {
  return {
    seq: m.rec.seq,
    subject: m.rec.subject,
    from: m.headers[FROM_HEADER] ?? '',
    timestamp: m.rec.timestamp,
    deliveryCount: m.count,
    ackSubject: ackSubjectOf(st, c, m.rec.seq, m.count),
  };
}
