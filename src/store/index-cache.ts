/**
 * Bounds the memory held by sparse indexes. The active segment's index always stays in
 * memory; sealed segments' indexes are loaded from their index files when a read needs
 * them and dropped, least recently used first, beyond `limit` segments. (A full 64 MiB
 * segment of small records has ~16 k entries, about half a megabyte in memory.)
 */
import type { Segment } from './segment.js';

/** Sealed segments whose indexes are kept loaded, by recency of use. */
export class IndexCache {
  private readonly loaded = new Set<Segment>();

  constructor(readonly limit: number) {}

  /** `seg`'s index was just used or loaded. Drops the least recently used over the limit. */
  touch(seg: Segment): void {
    this.loaded.delete(seg);
    this.loaded.add(seg);
    if (this.loaded.size <= this.limit) return;
    for (const s of this.loaded) {
      if (this.loaded.size <= this.limit) break;
      if (s === seg) continue;
      if (s.isRetired) this.loaded.delete(s);
      else if (s.dropIndex()) this.loaded.delete(s);
    }
  }

  /** `seg` was deleted or replaced. */
  forget(seg: Segment): void {
    this.loaded.delete(seg);
  }

  /** Segments whose index is in memory (for tests). */
  get size(): number {
    return this.loaded.size;
  }
}
