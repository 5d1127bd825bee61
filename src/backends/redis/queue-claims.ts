import type { Redis } from 'ioredis';

/** How long a claim key lives: long enough that every member has heard the message. */
const CLAIM_TTL_MS = 60_000;

/**
 * Queue groups on Redis pub/sub, which has none: every member of a group receives each
 * message, and the member whose `SET NX` on `plx:qg:<group>:<subject>:<id>` wins
 * delivers it. Claims go out in arrival order on one connection and Redis answers in
 * order, so each member still delivers in publish order.
 */
export class QueueClaims {
  private outstanding = 0;
  private waiters: (() => void)[] = [];

  constructor(private readonly cmd: Redis) {}

  /** Claim message `id` for `group`; `then(true)` for the winner only (a failed claim delivers nothing). */
  claim(group: string, subject: string, id: string, then: (won: boolean) => void): void {
    this.outstanding++;
    this.cmd.set(`plx:qg:${group}:${subject}:${id}`, '1', 'PX', CLAIM_TTL_MS, 'NX').then(
      (r) => this.done(() => then(r === 'OK')),
      () => this.done(() => then(false)),
    );
  }

  /** Resolves when every claim sent so far has been answered. */
  idle(): Promise<void> {
    return this.outstanding === 0 ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }

  private done(deliver: () => void): void {
    deliver();
    if (--this.outstanding === 0) {
      const w = this.waiters;
      this.waiters = [];
      for (const r of w) r();
    }
  }
}
