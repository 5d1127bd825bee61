/**
 * Recently read KV entries by revision, bounded in bytes (least recently used out).
 * Why: a `get` otherwise reads its record back from the log every time; entries are
 * immutable per revision, so a cache needs no invalidation — a newer write has a new
 * revision, and the key index decides which revision a `get` asks for.
 */
import type { WireKvEntry } from './kv-config.js';

/** Default budget: enough for the hot set of a session store, small next to the broker's buffers. */
export const KV_CACHE_BYTES = 16 * 1024 * 1024;

export class KvEntryCache {
  private readonly entries = new Map<number, WireKvEntry>();
  private bytes = 0;

  constructor(private readonly maxBytes = KV_CACHE_BYTES) {}

  get(revision: number): WireKvEntry | undefined {
    const e = this.entries.get(revision);
    if (e !== undefined) {
      // Map order is insertion order: re-insert to mark it recently used.
      this.entries.delete(revision);
      this.entries.set(revision, e);
    }
    return e;
  }

  set(e: WireKvEntry): void {
    const size = sizeOf(e);
    if (size > this.maxBytes || this.entries.has(e.revision)) return;
    this.entries.set(e.revision, e);
    this.bytes += size;
    for (const [rev, old] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(rev);
      this.bytes -= sizeOf(old);
    }
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }
}

function sizeOf(e: WireKvEntry): number {
  // Strings are UTF-16 in memory; the value is base64 text.
  return 2 * (e.key.length + (e.value?.length ?? 0)) + 64;
}
