/** Per-method request statistics of a served instance (read by discovery's `stats`). */

/** Counts for one method since the instance started. */
export interface MethodStats {
  /** Requests received. */
  requests: number;
  /** Requests that ended in an error (any kind). */
  errors: number;
  /** Sum of handling times in ms (decode to encode); average = totalMs / requests. */
  totalMs: number;
}

/** Mutable counters by method name. */
export class MethodStatsTable {
  private readonly byMethod = new Map<string, MethodStats>();

  /** The live counters of `name` (made on first use). */
  method(name: string): MethodStats {
    let s = this.byMethod.get(name);
    if (!s) this.byMethod.set(name, (s = { requests: 0, errors: 0, totalMs: 0 }));
    return s;
  }

  /** A copy of every method's counters. */
  snapshot(): Record<string, MethodStats> {
    const out: Record<string, MethodStats> = {};
    for (const [k, v] of this.byMethod) out[k] = { ...v };
    return out;
  }
}
