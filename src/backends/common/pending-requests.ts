/**
 * Requests waiting for replies on a backend that has no request/reply of its own: a
 * reply subject per request under the connection's inbox, a timer per deadline, and a
 * cancel notice to the responder when the caller gives up (timeout or abort).
 */
import { ErrorCode, PlexusError } from '../../errors/index.js';
import type { Message } from '../../client/message.js';
import { MAX_TIMER_MS } from '../../client/requests.js';

interface Pending {
  readonly subject: string;
  settle(err: unknown, msg?: Message): void;
}

export class PendingRequests {
  private readonly pending = new Map<string, Pending>();
  private seq = 0;

  constructor(
    /** Reply subjects are `<inboxPrefix>.<token>`. */
    private readonly inboxPrefix: string,
    /** Tell the responder holding `reply` that the caller stopped waiting (best effort). */
    private readonly sendCancel: (reply: string, reason: PlexusError) => void,
  ) {}

  /** Requests waiting for a reply. */
  get size(): number {
    return this.pending.size;
  }

  /** The subject a waiting request was sent to, if `reply` is one of ours and still waiting. */
  subjectOf(reply: string): string | undefined {
    return this.pending.get(reply)?.subject;
  }

  /**
   * Send a request through `publish(reply)` and wait for {@link settle} on its reply
   * subject, the deadline (`timeoutMs`, 0 = none) or the abort of `signal`.
   */
  start(subject: string, publish: (reply: string) => void, timeoutMs: number, signal: AbortSignal | undefined): Promise<Message> {
    if (signal?.aborted) return Promise.reject(signal.reason as unknown);
    const reply = `${this.inboxPrefix}.${(++this.seq).toString(36)}`;
    return new Promise<Message>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = (): void => {
        const reason = signal!.reason as unknown;
        this.cancel(reply, reason instanceof PlexusError ? reason : new PlexusError(ErrorCode.CANCELLED, 'cancelled by the caller'));
        settle(reason);
      };
      const settle = (err: unknown, msg?: Message): void => {
        if (!this.pending.delete(reply)) return;
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (msg) resolve(msg);
        else reject(err);
      };
      this.pending.set(reply, { subject, settle });
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          const err = new PlexusError(ErrorCode.TIMEOUT, `no reply on ${subject} within ${timeoutMs} ms`);
          this.cancel(reply, err);
          settle(err);
        }, Math.min(timeoutMs, MAX_TIMER_MS));
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        publish(reply);
      } catch (err) {
        settle(err);
      }
    });
  }

  /** Settle the request waiting on `reply` (a late reply after a timeout is ignored). */
  settle(reply: string, err: unknown, msg?: Message): void {
    this.pending.get(reply)?.settle(err, msg);
  }

  /** Fail every waiting request (the connection closed). */
  failAll(err: PlexusError): void {
    for (const p of [...this.pending.values()]) p.settle(err);
  }

  private cancel(reply: string, reason: PlexusError): void {
    try {
      this.sendCancel(reply, reason);
    } catch {
      // Closed: the responder's own deadline (carried with the request) still fires.
    }
  }
}
