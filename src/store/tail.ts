/**
 * `tail()`: an async iterator over records from a sequence on, waiting for new ones.
 * It pulls from the log in bounded batches (at most `batchRecords` / `batchBytes` held
 * at a time), so a slow consumer costs disk reads later, never memory now. It ends when
 * the log closes or the signal aborts.
 */
import type { StoredRecord } from './format.js';

/** Options for `tail()`. */
export interface TailOptions {
  /** Ends the iteration (without an error) when aborted. */
  readonly signal?: AbortSignal;
  /** Most records read ahead of the consumer. @default 256 */
  readonly batchRecords?: number;
  /** Most bytes read ahead of the consumer (one larger record still goes through). @default 1 MiB */
  readonly batchBytes?: number;
}

/** What the iterator needs from the log. */
export interface TailSource {
  firstSeq(): number;
  lastSeq(): number;
  /** True once the log is closing. */
  ending(): boolean;
  readRange(fromSeq: number, toSeq: number, maxRecords: number, maxBytes: number): Promise<StoredRecord[]>;
  /** Resolves when `lastSeq` passes `seq`, the log closes, or `signal` aborts. */
  waitPast(seq: number, signal: AbortSignal | undefined): Promise<void>;
}

/** Iterate records from `fromSeq`, then wait for more. */
export async function* tailRecords(src: TailSource, fromSeq: number, options: TailOptions = {}): AsyncGenerator<StoredRecord, void, undefined> {
  const { signal } = options;
  const maxRecords = options.batchRecords ?? 256;
  const maxBytes = options.batchBytes ?? 1 << 20;
  let next = fromSeq;
  for (;;) {
    if (src.ending() || signal?.aborted) return;
    next = Math.max(next, src.firstSeq());
    const last = src.lastSeq();
    if (next <= last) {
      const batch = await src.readRange(next, last, maxRecords, maxBytes);
      if (batch.length === 0) {
        next = last + 1; // Everything up to `last` was removed (retention, compaction).
        continue;
      }
      for (const rec of batch) {
        if (src.ending() || signal?.aborted) return;
        yield rec;
        next = rec.seq + 1;
      }
      continue;
    }
    await src.waitPast(last, signal);
  }
}
