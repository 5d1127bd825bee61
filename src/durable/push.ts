/**
 * Push sessions with credit windows (service side). A client subscribes to a deliver
 * subject and grants credit with `$PLX.DS.CONSUMER.PUSH.<stream>.<consumer>`; the
 * service publishes one message per credit to the deliver subject (payload as stored,
 * delivery metadata in the `ds-meta` header) and stops at zero credit. The client
 * refills as it works through its window. Both sides beat: the service sends a
 * `ds-status: heartbeat` message after `heartbeatMs` of silence, the client re-grants
 * (credit 0 is a keep-alive) at least as often; a session not heard from for three
 * heartbeats is dropped, and its unacknowledged messages come back after their ack wait.
 */
import type { Connection } from '../client/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { subjectProblem } from '../wire/index.js';
import { MAX_BATCH, META_HEADER, STATUS_HEADER } from './config.js';
import { claim, giveBack, toMeta, userHeaders } from './claim.js';
import type { Consumer, DurableStream } from './stream.js';

/** Most credit one push session holds. */
export const MAX_PUSH_CREDIT = 10_000;
/** Most push sessions one service runs. */
export const MAX_PUSH_SESSIONS = 10_000;
/** Heartbeat interval bounds and default (ms). */
export const MIN_HEARTBEAT_MS = 100;
export const MAX_HEARTBEAT_MS = 60_000;
export const DEFAULT_HEARTBEAT_MS = 5_000;
/** Bytes one claim round of a push session reads at most. */
const ROUND_BYTES = 8 * 1024 * 1024;

/** `$PLX.DS.CONSUMER.PUSH` payload. */
export interface PushGrant {
  /** Where messages go: must start with `_INBOX.` and have no wildcards. */
  readonly deliver: string;
  /** Messages more the service may send (added to what is left, or the new total with `reset`). */
  readonly credit?: number;
  readonly reset?: boolean;
  /** @default 5000 */
  readonly heartbeatMs?: number;
  /** End the session. */
  readonly stop?: boolean;
}

/** The reply: the session's credit after the grant, and the heartbeat in force. */
export interface PushGrantReply {
  readonly credit: number;
  readonly heartbeatMs: number;
  /** The grant started a new session (a client that thought it had one must reset). */
  readonly created: boolean;
  /** The consumer's ack wait: a delivery unsettled this long is taken back and redelivered. */
  readonly ackWaitMs?: number;
}

function bad(message: string): PlexusError {
  return new PlexusError(ErrorCode.INVALID_ARGUMENT, message);
}

function intField(o: Record<string, unknown>, key: string, min: number, max: number, dflt: number): number {
  const v = o[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw bad(`${key} must be an integer from ${min} to ${max}`);
  return v;
}

/** Validate a grant. */
export function parseGrant(body: unknown): Required<PushGrant> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('push grant must be a JSON object');
  const o = body as Record<string, unknown>;
  if (typeof o.deliver !== 'string' || !o.deliver.startsWith('_INBOX.') || subjectProblem(o.deliver, false)) {
    throw bad('deliver must be a subject under _INBOX. without wildcards');
  }
  return {
    deliver: o.deliver,
    credit: intField(o, 'credit', 0, MAX_PUSH_CREDIT, 0),
    reset: o.reset === true,
    heartbeatMs: intField(o, 'heartbeatMs', MIN_HEARTBEAT_MS, MAX_HEARTBEAT_MS, DEFAULT_HEARTBEAT_MS),
    stop: o.stop === true,
  };
}

/** One push session: a loop claiming and publishing while it has credit. */
class PushSession {
  credit = 0;
  heartbeatMs: number;
  lastHeard = Date.now();
  private lastSent = Date.now();
  private closed = false;

  constructor(
    private readonly bus: Connection,
    readonly st: DurableStream,
    readonly c: Consumer,
    readonly deliver: string,
    heartbeatMs: number,
    private readonly alive: () => boolean,
    private readonly onEnd: () => void,
  ) {
    this.heartbeatMs = heartbeatMs;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onEnd();
    this.st.wake();
  }

  async run(): Promise<void> {
    try {
      while (!this.closed && this.alive()) {
        if (Date.now() - this.lastHeard > 3 * this.heartbeatMs) break; // the client is gone
        if (this.credit > 0) {
          const { out, more } = await this.c.lock.run(() => claim(this.st, this.c, Math.min(this.credit, MAX_BATCH), ROUND_BYTES));
          if (this.closed) {
            giveBack(this.st, this.c, out); // stopped while claiming: due again at once, not after the ack wait
            break;
          }
          for (const m of out) {
            const headers = { ...userHeaders(m.headers), [META_HEADER]: JSON.stringify(toMeta(this.st, this.c, m)) };
            this.bus.publish(this.deliver, m.rec.payload, { headers });
            this.credit--;
          }
          if (out.length > 0) this.lastSent = Date.now();
          if (out.length > 0 || more) continue;
        }
        const now = Date.now();
        if (now - this.lastSent >= this.heartbeatMs) {
          this.bus.publish(this.deliver, undefined, { headers: { [STATUS_HEADER]: 'heartbeat' } });
          this.lastSent = now;
        }
        let wake = Math.min(this.lastSent + this.heartbeatMs, this.lastHeard + 3 * this.heartbeatMs + 1);
        if (this.credit > 0) wake = Math.min(wake, this.c.nextDue());
        await this.st.waitForWork(wake - now);
      }
    } finally {
      this.close();
    }
  }
}

/** Every push session of a service. */
export class PushSessions {
  private readonly sessions = new Map<string, PushSession>();

  constructor(
    private readonly bus: Connection,
    private readonly onError: (err: unknown) => void,
    private readonly streamAlive: (st: DurableStream) => boolean,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  /** Apply a grant: start, refill, keep alive or stop the session for its deliver subject. */
  grant(st: DurableStream, c: Consumer, g: Required<PushGrant>): PushGrantReply {
    const key = `${st.config.name}\n${c.config.name}\n${g.deliver}`;
    let s = this.sessions.get(key);
    const created = !s && !g.stop;
    if (g.stop) {
      s?.close();
      return { credit: 0, heartbeatMs: g.heartbeatMs, created: false };
    }
    if (!s) {
      if (this.sessions.size >= MAX_PUSH_SESSIONS) {
        throw new PlexusError(ErrorCode.MAX_SUBSCRIPTIONS, `at most ${MAX_PUSH_SESSIONS} push sessions per service`);
      }
      const session = new PushSession(this.bus, st, c, g.deliver, g.heartbeatMs, () => this.streamAlive(st), () => {
        if (this.sessions.get(key) === session) this.sessions.delete(key);
      });
      s = session;
      this.sessions.set(key, s);
      void s.run().catch((err: unknown) => this.onError(err));
    }
    s.lastHeard = Date.now();
    s.heartbeatMs = g.heartbeatMs;
    s.credit = Math.min(MAX_PUSH_CREDIT, g.reset ? g.credit : s.credit + g.credit);
    st.wake();
    return { credit: s.credit, heartbeatMs: s.heartbeatMs, created, ackWaitMs: c.config.ackWaitMs };
  }

  closeAll(): void {
    for (const s of [...this.sessions.values()]) s.close();
  }
}
