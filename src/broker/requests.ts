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
  readonly timer: ReturnType<typeof setTimeout>;
}

/** Longest a request without its own timeout is tracked. */
const DEFAULT_TRACK_MS = 120_000;

/**
 * The longest delay setTimeout honours. Longer ones fire after 1 ms, which dropped the
 * tracking of any request whose timeout (a u32 on the wire) was within a second of it.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Requests in flight, keyed by their reply subject. It lets a CANCEL travel from the
 * caller to exactly the responders that got the request, cancels their work when the
 * caller disconnects, and tells the caller at once when every responder holding its
 * request has gone away (instead of letting it wait for its timeout).
 */
export class RequestTracker {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxPerConnection: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** Record a delivered request. Untracked (but still delivered) past the per-connection limit. */
  add(reply: string, requester: RequestParty, responders: RequestParty[], timeoutMs: number): void {
    if (this.entries.has(reply) || requester.tracked.size >= this.maxPerConnection) return;
    const ms = timeoutMs > 0 ? Math.min(timeoutMs + 1000, MAX_TIMER_MS) : DEFAULT_TRACK_MS;
    const timer = setTimeout(() => this.remove(reply), ms);
    timer.unref?.();
    this.entries.set(reply, { requester, responders, timer });
    requester.tracked.add(reply);
    for (const r of responders) r.tracked.add(reply);
  }

  /** A message was published to `reply`: if a responder answered, stop tracking. */
  answered(reply: string, from: RequestParty): void {
    const e = this.entries.get(reply);
    if (e && e.responders.includes(from)) this.remove(reply);
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
        e.requester.sendError(
          new PlexusError(ErrorCode.RESPONDER_GONE, 'the responder disconnected before answering'),
          reply,
        );
      }
    }
    party.tracked.clear();
  }

  private remove(reply: string): void {
    const e = this.entries.get(reply);
    if (!e) return;
    clearTimeout(e.timer);
    this.entries.delete(reply);
    e.requester.tracked.delete(reply);
    for (const r of e.responders) r.tracked.delete(reply);
  }
}
