import { ErrorCode, PlexusError } from '../errors/index.js';

/** What the tracker needs from a connection. */
export interface RequestParty {
  readonly connId: string;
  readonly tracked: Set<string>;
  /** Forward a CANCEL for `reply` to this responder. */
  forwardCancel(reply: string, reason: string): void;
  /** Tell this requester its request failed. */
  sendError(err: PlexusError, subject: string): void;
}

interface Entry {
  readonly requester: RequestParty;
  readonly responders: RequestParty[];
  /** Epoch ms after which the entry is dropped by the sweep. */
  readonly expiresAt: number;
  /** Some responder has answered: the requester is not owed RESPONDER_GONE any more. */
  answered: boolean;
}

/** Longest a request without its own timeout is tracked. */
const DEFAULT_TRACK_MS = 120_000;

/** How often expired entries are swept. */
const SWEEP_MS = 1000;

/**
 * Requests in flight, keyed by their reply subject. It lets a CANCEL travel from the
 * caller to exactly the responders that got the request, cancels their work when the
 * caller disconnects, and tells the caller at once when every responder holding its
 * request has gone away (instead of letting it wait for its timeout).
 */
export class RequestTracker {
  private readonly entries = new Map<string, Entry>();
  /**
   * One sweep timer for all entries instead of a timer per request: arming and clearing
   * a timer for every request cost more than the rest of its tracking. Entries live up
   * to a second past their expiry, which only delays forgetting them.
   */
  private sweeper: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly maxPerConnection: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** Record a delivered request. Untracked (but still delivered) past the per-connection limit. */
  add(reply: string, requester: RequestParty, responders: RequestParty[], timeoutMs: number): void {
    if (this.entries.has(reply) || requester.tracked.size >= this.maxPerConnection) return;
    const ms = timeoutMs > 0 ? timeoutMs + 1000 : DEFAULT_TRACK_MS;
    this.entries.set(reply, { requester, responders: [...responders], expiresAt: Date.now() + ms, answered: false });
    if (!this.sweeper) {
      this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
      this.sweeper.unref?.();
    }
    requester.tracked.add(reply);
    for (const r of responders) r.tracked.add(reply);
  }

  /**
   * A message was published to `reply`: a responder that answered is done with it. The
   * entry stays while other responders still hold the request, so each of them may
   * answer too (a gather: one request, many answers) without `_INBOX` publish rights.
   */
  answered(reply: string, from: RequestParty): void {
    const e = this.entries.get(reply);
    if (!e) return;
    const i = e.responders.indexOf(from);
    if (i < 0) return;
    e.answered = true;
    e.responders.splice(i, 1);
    from.tracked.delete(reply);
    if (e.responders.length === 0) this.remove(reply);
  }

  /** Is `party` a responder currently allowed to answer on `reply`? */
  isResponder(reply: string, party: RequestParty): boolean {
    return this.entries.get(reply)?.responders.includes(party) ?? false;
  }

  /** The caller cancelled: forward to the responders. Returns false if unknown. */
  cancel(reply: string, from: RequestParty, reason: string): boolean {
    const e = this.entries.get(reply);
    if (!e || e.requester !== from) return false;
    this.remove(reply);
    for (const r of e.responders) r.forwardCancel(reply, reason);
    return true;
  }

  /** A connection closed: cancel what it asked for; fail what only it was answering. */
  closed(party: RequestParty): void {
    for (const reply of [...party.tracked]) {
      const e = this.entries.get(reply);
      if (!e) continue;
      if (e.requester === party) {
        this.remove(reply);
        for (const r of e.responders) if (r !== party) r.forwardCancel(reply, 'requester disconnected');
        continue;
      }
      const i = e.responders.indexOf(party);
      if (i >= 0) e.responders.splice(i, 1);
      if (e.responders.length === 0) {
        this.remove(reply);
        if (e.answered) continue; // it has its answer: the others leaving owes it nothing
        e.requester.sendError(
          new PlexusError(ErrorCode.RESPONDER_GONE, 'the responder disconnected before answering'),
          reply,
        );
      }
    }
    party.tracked.clear();
  }

  /** Drop expired entries; stop sweeping when nothing is tracked. */
  private sweep(): void {
    const now = Date.now();
    for (const [reply, e] of this.entries) if (e.expiresAt <= now) this.remove(reply);
    if (this.entries.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  /** Stop the sweep timer (broker shutdown). */
  close(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  private remove(reply: string): void {
    const e = this.entries.get(reply);
    if (!e) return;
    this.entries.delete(reply);
    e.requester.tracked.delete(reply);
    for (const r of e.responders) r.tracked.delete(reply);
  }
}
