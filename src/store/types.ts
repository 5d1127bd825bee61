/**
 * Public result and report types of the log store.
 */

/** What a successful append tells the caller. */
export interface AppendResult {
  /** The record's sequence number. */
  readonly seq: number;
  /** The timestamp (ms since the epoch) stored with it. */
  readonly timestamp: number;
}

/**
 * A byte range of a segment that holds no valid record, and the sequences that may
 * have been stored there (reading any of them fails with `PLEXUS_ERR_STORE_CORRUPT`).
 */
export interface CorruptRange {
  /** Segment file name, e.g. `00000000000000000001.log`. */
  readonly segment: string;
  /** First bad byte (file offset). */
  readonly fromOffset: number;
  /** Offset after the last bad byte: where the next valid record (or the file end) is. */
  readonly toOffset: number;
  /** Lowest sequence that may have been stored there. */
  readonly fromSeq: number;
  /** Highest sequence that may have been stored there. */
  readonly toSeq: number;
  /** What was wrong with the first bad record (e.g. "checksum mismatch"). */
  readonly reason: string;
}

/** What opening a log found and repaired. */
export interface RecoveryReport {
  /** Bytes of a torn last record (or garbage) cut from the end of the last segment. */
  readonly truncatedBytes: number;
  /** Corruption found by the open scan. Never served; reported here and on read. */
  readonly corruptRanges: readonly CorruptRange[];
  /** Segments whose index file was missing or inconsistent and was rebuilt by a scan. */
  readonly indexesRebuilt: readonly string[];
  /** Leftover temporary files (interrupted roll, compaction or meta write) removed. */
  readonly removedTempFiles: readonly string[];
  /** Segments found. */
  readonly segments: number;
  /** Which segments were fully checksum-verified: the last one, or all of them. */
  readonly verified: 'last' | 'all';
  /** True when the directory held no log and a new one was created. */
  readonly created: boolean;
}

/** Counters and current state, for tests, benchmarks and metrics. */
export interface LogStats {
  /** Records acknowledged since open. */
  readonly appends: number;
  /** Write batches (one write each; in `always` mode one fsync each). */
  readonly batches: number;
  /** fsync/fdatasync calls on segment data (batches, interval flushes, rolls, sync()). */
  readonly fsyncs: number;
  /** Bytes of records written since open. */
  readonly bytes: number;
  /** Batches that failed to write or sync (each rejected all its appends). */
  readonly writeFailures: number;
  /** Interval-mode fsyncs that failed after their writes were acknowledged. */
  readonly fsyncFailures: number;
  /** Segment rolls since open. */
  readonly rolls: number;
  /** Records at or above `firstSeq` (corrupt ranges and compacted gaps not counted). */
  readonly records: number;
  /** Bytes of segment data at or above `firstSeq`. */
  readonly storedBytes: number;
  /** Segment files. */
  readonly segments: number;
  readonly firstSeq: number;
  readonly lastSeq: number;
}

/** What {@link Log.enforceRetention} did. */
export interface RetentionResult {
  /** `firstSeq` after enforcement. */
  readonly firstSeq: number;
  /** Whole segment files deleted. */
  readonly removedSegments: number;
}

/** What {@link Log.compact} did. */
export interface CompactionResult {
  /** Sealed segments looked at. */
  readonly segments: number;
  /** Segments rewritten (or deleted when nothing in them was kept). */
  readonly rewritten: number;
  /** Segments left as they were because they hold corruption (compacting would hide it). */
  readonly skippedCorrupt: number;
  readonly recordsBefore: number;
  readonly recordsAfter: number;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
}
