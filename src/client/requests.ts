import { ErrorCode, PlexusError } from '../errors/index.js';
import { Flag, FrameType, type Frame, type FrameInit } from '../wire/index.js';
import { Message, type Payload, type ReplyChannel } from './message.js';
import { fromUtf8, toBytes, utf8 } from './payload.js';

/** Options for `request`. */
export interface RequestOptions {
  /** Give up after this long (0: never; at most 2^31-1 ms); the responder's signal fires at the same deadline. @default the connection's requestTimeoutMs */
  readonly timeout?: number;
  /** Cancel the request; the cancellation travels to the responder. */
  readonly signal?: AbortSignal;
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Safe to run twice: if the connection drops after the request was sent, send it again
   * after reconnecting instead of failing with PLEXUS_ERR_CONNECTION_LOST. @default false
   */
  readonly idempotent?: boolean;
  /** Send on the control lane. */
  readonly priority?: boolean;
}

/** A route for frames arriving on the connection's inbox. */
export interface InboxRoute {
  onFrame(frame: Frame): void;
  onError(err: PlexusError): void;
}

/** What the request manager needs from its connection. */
export interface RequestHost extends ReplyChannel {
  readonly inbox: string;
  readonly requestTimeoutMs: number;
  /**
   * Send now and return the generation of the transport it went out on. When not
   * connected: `hold` keeps it in the reconnect buffer, `skip` does not send; both return -1.
   */
  sendFrame(init: FrameInit, whenDisconnected: 'hold' | 'skip'): number;
  readonly generation: number;
  addRoute(token: string, route: InboxRoute): void;
  removeRoute(token: string): void;
  encodeHeadersChecked(headers: Readonly<Record<string, string>> | undefined): Uint8Array | undefined;
  checkPublish(subject: string, payload: Uint8Array): void;
}

/**
 * How long after a reconnect a re-sent request treats PLEXUS_ERR_NO_RESPONDERS as "not
 * back yet" and tries again: after a broker restart every client reconnects on its own
 * jittered schedule, and a requester that got back first found no responders and failed
 * the very requests the reconnect was meant to save. Within the request's own timeout.
 */
const RESUBSCRIBE_GRACE_MS = 3000;

/** The longest delay setTimeout honours (longer ones fire after 1 ms). */
export const MAX_TIMER_MS = 2 ** 31 - 1;
const RESUBSCRIBE_RETRY_MS = 50;

class PendingRequest implements InboxRoute {
  timer: ReturnType<typeof setTimeout> | undefined;
  onAbort: (() => void) | undefined;
  sentOn = -1;
  /** Re-sent after a reconnect: NO_RESPONDERS is retried until this time (epoch ms). */
  retryUntil = 0;
  retryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly manager: RequestManager,
    readonly token: string,
    readonly init: FrameInit,
    readonly idempotent: boolean,
    readonly signal: AbortSignal | undefined,
    readonly resolve: (m: Message) => void,
    readonly reject: (e: unknown) => void,
  ) {}

  onFrame(f: Frame): void {
    if (f.type !== FrameType.MSG) return;
    if ((f.flags & Flag.ERROR) !== 0) {
      let wire: unknown;
      try {
        wire = JSON.parse(fromUtf8(f.payload));
      } catch {
        wire = { code: ErrorCode.HANDLER_FAILED, message: 'the responder sent an unreadable error' };
      }
      this.settle(PlexusError.fromWire(wire));
      return;
    }
    this.settle(undefined, new Message(f, 0, this.manager.host));
  }

  onError(err: PlexusError): void {
    if (err.code === ErrorCode.NO_RESPONDERS && Date.now() < this.retryUntil) {
      this.manager.retrySoon(this);
      return;
    }
    this.settle(err);
  }

  settle(err: unknown, msg?: Message): void {
    if (!this.manager.forget(this)) return;
    if (err !== undefined) this.reject(err);
    else this.resolve(msg!);
  }
}

/**
 * Request/reply over the connection's inbox: one wildcard subscription serves every
 * reply, each request is a token under it. Every request settles: reply, error,
 * timeout, cancellation, or connection loss.
 */
export class RequestManager {
  private readonly pending = new Map<string, PendingRequest>();
  private next = 0;

  constructor(readonly host: RequestHost) {}

  get size(): number {
    return this.pending.size;
  }

  request(subject: string, data: Payload | undefined, options: RequestOptions = {}): Promise<Message> {
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const timeout = options.timeout ?? this.host.requestTimeoutMs;
    // Bounded by the longest timer Node can set (~24.8 days): beyond it setTimeout fires
    // after 1 ms, and such a request used to time out at once.
    if (!(timeout >= 0) || !Number.isFinite(timeout) || timeout > MAX_TIMER_MS) {
      return Promise.reject(
        new PlexusError(ErrorCode.INVALID_ARGUMENT, `timeout must be a number of ms from 0 to ${MAX_TIMER_MS}, got ${timeout}`),
      );
    }
    let payload: Uint8Array;
    let headers: Uint8Array | undefined;
    try {
      payload = toBytes(data);
      this.host.checkPublish(subject, payload);
      headers = this.host.encodeHeadersChecked(options.headers);
    } catch (err) {
      return Promise.reject(err);
    }
    const token = `r${(++this.next).toString(36)}`;
    const reply = `${this.host.inbox}.${token}`;
    const init: FrameInit = {
      type: FrameType.PUB,
      flags: Flag.REQUEST | (options.priority ? Flag.PRIORITY : 0),
      aux: Math.ceil(timeout),
      subject,
      reply,
      ...(headers ? { headers } : {}),
      payload,
    };
    return new Promise<Message>((resolve, reject) => {
      const p = new PendingRequest(this, token, init, options.idempotent ?? false, signal, resolve, reject);
      this.pending.set(token, p);
      this.host.addRoute(token, p);
      if (timeout > 0) {
        p.timer = setTimeout(() => {
          const err = new PlexusError(ErrorCode.TIMEOUT, `request to ${subject} timed out after ${timeout} ms`);
          // The reason travels as the error's wire form so the responder aborts with
          // PLEXUS_ERR_TIMEOUT, not a generic CANCELLED (see responder.ts cancelReason).
          this.sendCancel(p, JSON.stringify(err.toWire()));
          p.settle(err);
        }, timeout);
      }
      if (signal) {
        p.onAbort = () => {
          this.sendCancel(p, 'cancelled by caller');
          p.settle(signal.reason ?? new PlexusError(ErrorCode.CANCELLED, 'request cancelled'));
        };
        signal.addEventListener('abort', p.onAbort, { once: true });
      }
      try {
        p.sentOn = this.host.sendFrame(init, 'skip');
      } catch (err) {
        p.settle(err);
      }
    });
  }

  /** Remove a request; false if it had already settled. */
  forget(p: PendingRequest): boolean {
    if (this.pending.get(p.token) !== p) return false;
    this.pending.delete(p.token);
    this.host.removeRoute(p.token);
    if (p.timer) clearTimeout(p.timer);
    if (p.retryTimer) clearTimeout(p.retryTimer);
    if (p.onAbort) p.signal?.removeEventListener('abort', p.onAbort);
    return true;
  }

  /** Send `p` again shortly (responders may still be resubscribing after a reconnect). */
  retrySoon(p: PendingRequest): void {
    if (p.retryTimer) return;
    p.retryTimer = setTimeout(() => {
      p.retryTimer = undefined;
      if (this.pending.get(p.token) !== p) return;
      try {
        p.sentOn = this.host.sendFrame(p.init, 'skip'); // -1 if disconnected again: resend() covers it
      } catch (err) {
        p.settle(err);
      }
    }, RESUBSCRIBE_RETRY_MS);
  }

  private sendCancel(p: PendingRequest, reason: string): void {
    if (p.sentOn < 0 || p.sentOn !== this.host.generation) return;
    try {
      this.host.sendFrame({ type: FrameType.CANCEL, subject: p.init.reply!, payload: utf8(reason) }, 'skip');
    } catch {
      // Connection closed: the broker cancels on our behalf when it sees us go.
    }
  }

  /**
   * The connection dropped. Requests that went out on it fail with CONNECTION_LOST,
   * unless idempotent; those (and ones never sent) go out again after reconnect.
   */
  connectionLost(): void {
    for (const p of [...this.pending.values()]) {
      if (p.sentOn >= 0 && !p.idempotent) {
        p.settle(new PlexusError(ErrorCode.CONNECTION_LOST, `connection lost while waiting for a reply on ${p.init.subject}`));
      } else p.sentOn = -1;
    }
  }

  /** After reconnecting: send every request not yet sent on the new connection. */
  resend(): void {
    for (const p of this.pending.values()) {
      if (p.sentOn === -1) {
        p.retryUntil = Date.now() + RESUBSCRIBE_GRACE_MS;
        try {
          p.sentOn = this.host.sendFrame(p.init, 'skip');
        } catch (err) {
          p.settle(err);
        }
      }
    }
  }

  /** Fail everything (connection closed for good). */
  closeAll(err: PlexusError): void {
    for (const p of [...this.pending.values()]) p.settle(err);
  }

  /** Wait until no request is pending, or the deadline passes. */
  async settled(deadline: number): Promise<void> {
    while (this.pending.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  }
}
