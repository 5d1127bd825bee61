/**
 * Bookkeeping for the crash proof: what the clients were told (acknowledged) and what
 * they later saw, per workload, and the checks that turn the two into verdicts.
 */

/** Messages sent through a queue or mailbox and what the consumers saw of them. */
export class MessageTally {
  /** id → the sequence its (first) acknowledgement named. */
  readonly acked = new Map<number, number>();
  /** id → every distinct sequence it was delivered under (two = stored twice). */
  readonly deliveredSeqs = new Map<number, Set<number>>();
  /** seq → when its ack was confirmed by the service. */
  readonly ackConfirmedAt = new Map<number, number>();
  sendAttempts = 0;
  sendFailures = 0;
  deliveries = 0;
  ackFailures = 0;
  /** Deliveries iterated after that message's ack had been confirmed (pushed before it, or undone). */
  undoneAcks = 0;
  /** Payloads that did not match what was sent for their id. */
  corrupt = 0;

  delivered(id: number, seq: number, payloadOk: boolean, receivedAt: number): void {
    this.deliveries++;
    if (!payloadOk) this.corrupt++;
    let seqs = this.deliveredSeqs.get(id);
    if (!seqs) this.deliveredSeqs.set(id, (seqs = new Set()));
    seqs.add(seq);
    const confirmed = this.ackConfirmedAt.get(seq);
    if (confirmed !== undefined && confirmed < receivedAt) this.undoneAcks++;
  }

  /** Acknowledged sends never delivered. */
  lost(): number {
    let n = 0;
    for (const id of this.acked.keys()) if (!this.deliveredSeqs.has(id)) n++;
    return n;
  }

  /** Ids stored under more than one sequence (dedup failed). */
  duplicates(): number {
    let n = 0;
    for (const seqs of this.deliveredSeqs.values()) if (seqs.size > 1) n++;
    return n;
  }
}

/** KV puts: per key, the last value acknowledged and the last one attempted. */
export class KvTally {
  readonly lastAcked = new Map<string, number>();
  readonly lastAttempted = new Map<string, number>();
  attempts = 0;
  failures = 0;
  acked = 0;
  /** Revisions that went backwards between two acknowledged writes. */
  revisionRegressions = 0;
  lastRevision = 0;

  /** A key whose stored value is older than its last acknowledged put, or not one this client wrote. */
  check(key: string, stored: number | undefined): 'ok' | 'lost' | 'unknown-value' {
    const acked = this.lastAcked.get(key);
    const attempted = this.lastAttempted.get(key);
    if (acked === undefined) return stored === undefined || stored === attempted ? 'ok' : 'unknown-value';
    if (stored === undefined || stored < acked) return 'lost';
    // A put whose reply was lost to a kill may still have been applied.
    return stored === acked || stored === attempted ? 'ok' : 'unknown-value';
  }
}
