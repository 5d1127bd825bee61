/**
 * Settling deliveries: the ack verbs (`+ACK`, `-NAK`, `+WPI`, `+TERM`) and moving
 * deliveries that used up `maxDeliver` to the dead-letter stream. See docs/durable.md.
 */
import { ErrorCode, PlexusError } from '../errors/index.js';
import { decodeHeaders, encodeHeaders } from '../wire/index.js';
import { MAX_ACK_BATCH } from './config.js';
import { STORED_DELIVER_AT, STORED_EXPIRES_AT } from './schedule.js';
import type { Consumer, DurableStream } from './stream.js';

const textDecoder = new TextDecoder();
/** Longest nak delay. */
const MAX_NAK_DELAY_MS = 86_400_000;

/** Apply one ack verb to the delivery `seq` of `c`. Settling what is not pending is a no-op. */
export async function applyAckVerb(st: DurableStream, c: Consumer, seq: number, payload: Uint8Array): Promise<void> {
  const text = textDecoder.decode(payload).trim();
  const verb = text.slice(0, 4);
  const p = c.pending.get(seq);
  switch (verb) {
    case '+ACK':
    case '+TER': {
      if (verb === '+TER' && !text.startsWith('+TERM')) break;
      if (!p || p.count === 0) return; // a delayed message was never delivered: nothing to settle
      // No consumer lock: the change is synchronous, and holding the lock through the
      // save would make every ack wait for its own file write in turn.
      c.remove(seq);
      await c.writer.save();
      await st.applyWorkqueue();
      return;
    }
    case '-NAK': {
      let delayMs = 0;
      const rest = text.slice(4).trim();
      if (rest) {
        try {
          const d = (JSON.parse(rest) as { delayMs?: unknown }).delayMs;
          if (typeof d === 'number' && d >= 0) delayMs = Math.min(d, MAX_NAK_DELAY_MS);
        } catch {
          throw new PlexusError(ErrorCode.INVALID_ARGUMENT, 'nak options must be JSON: -NAK {"delayMs":N}');
        }
      }
      if (p && p.count > 0) {
        p.deadline = Date.now() + delayMs;
        if (delayMs === 0) st.wake();
      }
      return;
    }
    case '+WPI':
      if (p && p.count > 0) p.deadline = Date.now() + c.config.ackWaitMs;
      return;
    default:
      break;
  }
  throw new PlexusError(ErrorCode.INVALID_ARGUMENT, "ack payload must be '+ACK', '-NAK', '+WPI' or '+TERM'");
}

/**
 * Parse a batched ack payload, `+ACK <seq> <seq>…` (decimal, space separated, at most
 * {@link MAX_ACK_BATCH}); anything else is `PLEXUS_ERR_INVALID_ARGUMENT`.
 */
export function parseAckBatch(payload: Uint8Array): number[] {
  const words = textDecoder.decode(payload).trim().split(/\s+/);
  if (words[0] !== '+ACK') throw new PlexusError(ErrorCode.INVALID_ARGUMENT, "a batched ack payload is '+ACK <seq> <seq>…'");
  const seqs = words.slice(1).map(Number);
  if (seqs.length === 0 || seqs.length > MAX_ACK_BATCH || !seqs.every((s) => Number.isSafeInteger(s) && s > 0)) {
    throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `a batched ack carries 1 to ${MAX_ACK_BATCH} positive sequences`);
  }
  return seqs;
}

/**
 * Acknowledge every delivery of `seqs` on `c` with one consumer-state save and one
 * work-queue trim (what is not pending is skipped, as for a single `+ACK`).
 */
export async function applyAcks(st: DurableStream, c: Consumer, seqs: readonly number[]): Promise<void> {
  let changed = false;
  for (const seq of seqs) {
    const p = c.pending.get(seq);
    if (!p || p.count === 0) continue;
    c.remove(seq);
    changed = true;
  }
  if (!changed) return;
  await c.writer.save();
  await st.applyWorkqueue();
}

/** Whether `c` has a delivery that used up maxDeliver and whose ack wait passed. */
export function hasDeadLetters(c: Consumer, now: number): boolean {
  for (const p of c.pending.values()) if (p.deadline <= now && p.count >= c.config.maxDeliver) return true;
  return false;
}

/**
 * Append every such delivery to `dlq` with its reason and origin, then remove it from
 * the consumer (saved). The copy keeps subject, headers, sender and payload, but not the
 * delay or TTL: a dead letter waits to be looked at.
 */
export async function moveDeadLetters(st: DurableStream, c: Consumer, dlq: DurableStream, stopping: () => boolean): Promise<void> {
  await c.lock.run(async () => {
    const now = Date.now();
    let changed = false;
    for (const [seq, p] of [...c.pending]) {
      if (p.deadline > now || p.count < c.config.maxDeliver || stopping()) continue;
      const rec = await st.log.read(seq);
      if (rec) {
        const headers: Record<string, string> = {
          ...(decodeHeaders(rec.headers) ?? {}),
          'dlq-reason': 'max-deliver',
          'dlq-stream': st.config.name,
          'dlq-consumer': c.config.name,
          'dlq-seq': String(seq),
          'dlq-deliveries': String(p.count),
        };
        delete headers[STORED_DELIVER_AT];
        delete headers[STORED_EXPIRES_AT];
        await dlq.appendRaw(rec.subject, encodeHeaders(headers), rec.payload);
      }
      c.remove(seq);
      changed = true;
    }
    if (changed) await c.writer.save();
  });
  await st.applyWorkqueue();
}
