/**
 * Tombstone removal of a KV bucket: which deleted keys compaction may forget, and the
 * revision up to which it has (saved in `<bucket>/tombstones.json`), so a watcher that
 * resumes from before a removed tombstone gets a coded error instead of silently
 * missing the delete. See docs/kv.md ("Purge and tombstones").
 */
import { join } from 'node:path';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { readJson, writeFileAtomic } from './files.js';
import type { KvRecordOp } from './kv-config.js';

/** A purge marker is dropped at the compaction this long after it was written, at the latest. */
export const PURGE_COMPACT_DELAY_MS = 1000;
/** Longest single wait of the tombstone timer (setTimeout's limit is about 24 days). */
export const TOMBSTONE_CHECK_MAX_MS = 3_600_000;

/** What the removal needs to know of a key. */
export interface TombstoneView {
  readonly op: KvRecordOp;
  readonly revision: number;
  readonly updatedAt: number;
}

/**
 * When the key can be forgotten: a purge marker at once, a delete / expire tombstone
 * `tombstoneTtlMs` after it was written; undefined for a live key.
 */
export function forgetAt(st: TombstoneView, tombstoneTtlMs: number): number | undefined {
  if (st.op === 'put') return undefined;
  return st.op === 'purge' ? st.updatedAt : st.updatedAt + tombstoneTtlMs;
}

/** The highest revision of a tombstone the bucket has forgotten. */
export class PurgedMark {
  private constructor(
    private readonly path: string,
    private value: number,
  ) {}

  /** Read `<dir>/tombstones.json` (0 when absent). */
  static async load(dir: string): Promise<PurgedMark> {
    const path = join(dir, 'tombstones.json');
    const raw = (await readJson(path)) as { purgedThrough?: unknown } | undefined;
    const v = typeof raw?.purgedThrough === 'number' && Number.isSafeInteger(raw.purgedThrough) ? raw.purgedThrough : 0;
    return new PurgedMark(path, v);
  }

  get through(): number {
    return this.value;
  }

  /**
   * Raise the mark to `revision` and save it; done before the compaction that removes
   * the records, so after a crash the mark is never lower than what is gone.
   */
  async raise(revision: number): Promise<void> {
    if (revision <= this.value) return;
    this.value = revision;
    await writeFileAtomic(this.path, JSON.stringify({ purgedThrough: revision }));
  }

  /** PLEXUS_ERR_KV_WRONG_REVISION when changes after `after` may miss a removed tombstone. */
  check(after: number): void {
    if (after >= this.value) return;
    throw new PlexusError(
      ErrorCode.KV_WRONG_REVISION,
      `changes after revision ${after} are incomplete: tombstones up to revision ${this.value} were removed; watch again from the current values to resync`,
      { details: { after, purgedThrough: this.value, reason: 'tombstones-removed' } },
    );
  }
}
