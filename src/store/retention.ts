/**
 * Retention arithmetic: where the logical first sequence must move so the log holds at
 * most `maxMessages` records, at most `maxBytes` bytes of records, and nothing older
 * than `maxAgeMs`. Exact per record: the searches use the sparse index (which carries
 * each entry's ordinal, position and timestamp) and a short walk from the nearest entry.
 * Whole segments below the marker are deleted by the caller.
 */
import { SEGMENT_HEADER_BYTES } from './format.js';
import type { Segment } from './segment.js';

/** The part of the first segment that lies below the marker. */
export interface HeadCut {
  readonly seg: Segment;
  /** Valid records of `seg` below the marker. */
  readonly ordinal: number;
  /** Offset of the first record at or above the marker (or the end). */
  readonly pos: number;
}

/** What the computation needs to know about the log. */
export interface RetentionState {
  readonly segments: readonly Segment[];
  readonly marker: number;
  readonly nextSeq: number;
  readonly headCut: HeadCut | undefined;
}

/** Limits (Infinity when unset). */
export interface RetentionLimits {
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly maxAgeMs: number;
}

/** Records at or above the marker. */
export function retainedRecords(st: RetentionState): number {
  let n = 0;
  for (const s of st.segments) n += s.count;
  return n - (st.headCut?.ordinal ?? 0);
}

/** Bytes of segment data at or above the marker. */
export function retainedBytes(st: RetentionState): number {
  let n = 0;
  for (const s of st.segments) n += s.dataBytes;
  return n - (st.headCut === undefined ? 0 : st.headCut.pos - SEGMENT_HEADER_BYTES);
}

/** The marker the limits call for (never below the current one). */
export async function limitsMarker(st: RetentionState, limits: RetentionLimits, now: number): Promise<number> {
  let marker = st.marker;
  if (limits.maxMessages !== Infinity) marker = Math.max(marker, await byCount(st, limits.maxMessages));
  if (limits.maxBytes !== Infinity) marker = Math.max(marker, await byBytes(st, limits.maxBytes));
  if (limits.maxAgeMs !== Infinity) marker = Math.max(marker, await byAge(st, now - limits.maxAgeMs));
  return Math.min(marker, st.nextSeq);
}

function cutOf(st: RetentionState, seg: Segment): { ordinal: number; pos: number } {
  return st.headCut?.seg === seg ? st.headCut : { ordinal: 0, pos: SEGMENT_HEADER_BYTES };
}

/** Keep the newest `max` records. */
async function byCount(st: RetentionState, max: number): Promise<number> {
  let skip = retainedRecords(st) - max;
  if (skip <= 0) return st.marker;
  for (const seg of st.segments) {
    const from = cutOf(st, seg).ordinal;
    const avail = seg.count - from;
    if (skip < avail) {
      const loc = await seg.seekFirst('ordinals', from + skip);
      return loc?.seq ?? st.marker;
    }
    skip -= avail;
  }
  return st.nextSeq;
}

/** Keep the newest records that fit in `max` bytes. */
async function byBytes(st: RetentionState, max: number): Promise<number> {
  if (retainedBytes(st) <= max) return st.marker;
  let suffix = 0;
  for (let i = st.segments.length - 1; i >= 0; i--) {
    const seg = st.segments[i]!;
    const bytes = seg.size - cutOf(st, seg).pos;
    if (suffix + bytes > max) {
      // Records starting at or after `threshold` fit in what is left of the budget.
      const threshold = seg.size - (max - suffix);
      const loc = await seg.seekFirst('positions', threshold);
      return loc?.seq ?? Math.min(seg.upper, st.nextSeq);
    }
    suffix += bytes;
  }
  return st.marker;
}

/** Drop records with a timestamp before `cutoff`. */
async function byAge(st: RetentionState, cutoff: number): Promise<number> {
  for (const seg of st.segments) {
    if (seg.count === 0 || seg.lastTimestamp! < cutoff) continue;
    if (seg.firstTimestamp! >= cutoff) return seg.firstSeq!;
    const loc = await seg.seekFirst('timestamps', cutoff);
    return loc?.seq ?? st.marker;
  }
  return st.nextSeq;
}
