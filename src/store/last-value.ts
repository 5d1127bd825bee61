/**
 * Last-value-per-subject retention: keep only the newest record (or newest N) of each
 * subject, plus the newest tombstone of a deleted subject until it is purged. This is
 * the retention a KV bucket needs (the subject is the key).
 *
 * It is built on {@link Log.compact}: a scan finds the newest sequences per subject,
 * and compaction rewrites sealed segments keeping those, while appends go on. Records
 * appended after the scan began are never dropped by that run (they count as newer),
 * so a concurrent writer can only make a run keep more than it strictly had to.
 */
import { ErrorCode, PlexusError, plexusError } from '../errors/index.js';
import type { KeepPredicate } from './compaction.js';
import type { StoredRecord } from './format.js';
import type { Log } from './log.js';
import type { CompactionResult } from './types.js';

/** Options of {@link lastValuePredicate} and {@link compactLastValue}. */
export interface LastValueOptions {
  /** Newest records kept per subject (history). 1 – 1024. @default 1 */
  readonly keepPerSubject?: number;
  /**
   * Tells a tombstone (a record that marks its subject deleted). A tombstone is kept
   * like any record until it is purged. @default no record is a tombstone
   */
  readonly isTombstone?: (record: StoredRecord) => boolean;
  /**
   * Purge deleted subjects: when a subject's newest record is a tombstone written
   * before this time (epoch ms), every record of the subject goes, tombstone included.
   * @default never purge
   */
  readonly purgeTombstonesBefore?: number;
}

/** Largest `keepPerSubject`. */
export const MAX_KEEP_PER_SUBJECT = 1024;

interface SubjectState {
  /** Newest sequences, oldest first, at most keepPerSubject. */
  seqs: number[];
  /** The newest record is a tombstone old enough to purge. */
  purge: boolean;
}

/**
 * Scan `log` and return a predicate keeping the newest `keepPerSubject` records of each
 * subject (dropping purged subjects entirely). Corrupt ranges are skipped by the scan
 * (compaction leaves segments holding them alone anyway).
 */
export async function lastValuePredicate(log: Log, options: LastValueOptions = {}): Promise<KeepPredicate> {
  const keep = options.keepPerSubject ?? 1;
  if (!Number.isSafeInteger(keep) || keep < 1 || keep > MAX_KEEP_PER_SUBJECT) {
    throw plexusError(ErrorCode.INVALID_ARGUMENT, `keepPerSubject must be an integer from 1 to ${MAX_KEEP_PER_SUBJECT}`, {
      details: { keepPerSubject: keep },
    });
  }
  const isTombstone = options.isTombstone ?? (() => false);
  const purgeBefore = options.purgeTombstonesBefore ?? -Infinity;
  const subjects = new Map<string, SubjectState>();
  const last = log.lastSeq;
  let from = log.firstSeq;
  // Bounded: every pass moves `from` forward past at least one record or corrupt range.
  while (from <= last) {
    let recs: StoredRecord[];
    try {
      recs = await log.readRange(from, { toSeq: last, maxRecords: 4096, maxBytes: 4 << 20 });
    } catch (err) {
      const toSeq = err instanceof PlexusError && err.code === ErrorCode.STORE_CORRUPT ? (err.details as { toSeq?: unknown } | undefined)?.toSeq : undefined;
      if (typeof toSeq !== 'number') throw err;
      from = Math.max(from + 1, toSeq + 1);
      continue;
    }
    if (recs.length === 0) break;
    for (const r of recs) {
      let st = subjects.get(r.subject);
      if (!st) subjects.set(r.subject, (st = { seqs: [], purge: false }));
      st.seqs.push(r.seq);
      if (st.seqs.length > keep) st.seqs.shift();
      st.purge = r.timestamp < purgeBefore && isTombstone(r);
    }
    from = recs[recs.length - 1]!.seq + 1;
  }
  return (record) => {
    if (record.seq > last) return true;
    const st = subjects.get(record.subject);
    if (!st) return true; // not seen by the scan (a skipped corrupt range): keep
    if (st.purge) return false;
    return st.seqs.includes(record.seq);
  };
}

/**
 * Apply last-value-per-subject retention to the sealed segments of `log` now (see
 * {@link lastValuePredicate}). Appends continue while it runs. The active segment is
 * not compacted: it is reclaimed once it rolls.
 */
export async function compactLastValue(log: Log, options: LastValueOptions = {}): Promise<CompactionResult> {
  return log.compact(await lastValuePredicate(log, options));
}
