import { ErrorCode, PlexusError, isErrorCode } from '../errors/index.js';
import { Flag, FrameType, type FrameInit } from '../wire/index.js';
import type { Message, Payload } from './message.js';
import { toBytes, utf8 } from './payload.js';
import { MAX_TIMER_MS } from './requests.js';

/** What a request handler gets besides the message. */
export interface RequestContext {
  /**
   * Fires when the caller cancels, its deadline passes, or it disconnects. Pass it on to
   * whatever the handler awaits; the reason is a PlexusError (CANCELLED or TIMEOUT).
   */
  readonly signal: AbortSignal;
  /** Epoch ms when the caller stops waiting, if it set a timeout. */
  readonly deadline: number | undefined;
  /** The caller's identity, as stamped by the broker. */
  readonly from: string;
}

/** A request handler: return the reply payload (or nothing), or throw to send an error. */
export type RequestHandler = (msg: Message, ctx: RequestContext) => Payload | void | Promise<Payload | void>;

/** What the responder registry needs from its connection. */
export interface ResponderHost {
  sendFrame(init: FrameInit, whenDisconnected: 'hold' | 'skip'): number;
  encodeHeadersChecked(headers: Readonly<Record<string, string>> | undefined): Uint8Array | undefined;
}

/**
 * Runs request handlers and wires cancellation: the broker forwards the caller's
 * CANCEL (or its disconnect) as a CANCEL frame naming the reply subject, which aborts
 * the handler's signal.
 */
export class Responders {
  /**
   * Running requests by reply subject. Usually one each; two `serve()` subscriptions on
   * one connection that match the same request both run, and a cancel must reach both.
   */
  private readonly active = new Map<string, ActiveRequest | ActiveRequest[]>();
  private count = 0;

  constructor(private readonly host: ResponderHost) {}

  /** Handlers currently running. */
  get running(): number {
    return this.count;
  }

  handle(msg: Message, handler: RequestHandler): void {
    if (!msg.reply) return; // an event, not a request: nobody to answer
    const reply = msg.reply;
    const req = new ActiveRequest(msg);
    this.track(reply, req);
    const finish = (): void => {
      req.dispose();
      this.untrack(reply, req);
    };
    let result: Payload | void | Promise<Payload | void>;
    try {
      result = handler(msg, req);
    } catch (err) {
      this.replyError(reply, err, req);
      finish();
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (value) => {
          if (!req.aborted) this.reply(reply, value);
          finish();
        },
        (err: unknown) => {
          this.replyError(reply, err, req);
          finish();
        },
      );
    } else {
      if (!req.aborted) this.reply(reply, result);
      finish();
    }
  }

  /** The caller cancelled (or went away). */
  cancel(reply: string, reason: string): void {
    const entry = this.active.get(reply);
    if (!entry) return;
    this.active.delete(reply);
    const reqs = Array.isArray(entry) ? entry : [entry];
    this.count -= reqs.length;
    const err = cancelReason(reason);
    for (const req of reqs) req.abort(err);
  }

  /** Abort every running handler (connection closing). */
  abortAll(reason: PlexusError): void {
    for (const entry of this.active.values()) for (const req of Array.isArray(entry) ? entry : [entry]) req.abort(reason);
    this.active.clear();
    this.count = 0;
  }

  /** Wait for running handlers to finish, or the deadline. */
  async idle(deadline: number): Promise<void> {
    while (this.count > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  }

  private track(reply: string, req: ActiveRequest): void {
    const entry = this.active.get(reply);
    if (entry === undefined) this.active.set(reply, req);
    else if (Array.isArray(entry)) entry.push(req);
    else this.active.set(reply, [entry, req]);
    this.count++;
  }

  private untrack(reply: string, req: ActiveRequest): void {
    const entry = this.active.get(reply);
    if (entry === req) {
      this.active.delete(reply);
      this.count--;
    } else if (Array.isArray(entry)) {
      const i = entry.indexOf(req);
      if (i < 0) return;
      entry.splice(i, 1);
      this.count--;
      if (entry.length === 0) this.active.delete(reply);
    }
  }

  private reply(reply: string, value: Payload | void): void {
    try {
      this.host.sendFrame({ type: FrameType.PUB, subject: reply, payload: toBytes(value ?? undefined) }, 'skip');
    } catch {
      // Closed while the handler ran: nothing to answer on.
    }
  }

  private replyError(reply: string, err: unknown, req: ActiveRequest): void {
    if (req.aborted) return;
    const pe =
      err instanceof PlexusError
        ? err
        : new PlexusError(ErrorCode.HANDLER_FAILED, err instanceof Error ? err.message : String(err));
    let body: string;
    try {
      body = JSON.stringify(pe.toWire());
    } catch {
      // Details that JSON cannot carry (a BigInt, a cycle): the caller still gets the code
      // and message at once instead of waiting out its timeout.
      body = JSON.stringify({ code: pe.code, message: pe.message, details: { unserializable: true } });
    }
    try {
      this.host.sendFrame({ type: FrameType.PUB, flags: Flag.ERROR, subject: reply, payload: utf8(body) }, 'skip');
    } catch {
      // Closed while the handler ran.
    }
  }
}

/**
 * One running request and its context. The AbortController and the deadline timer are
 * made only if the handler reads `signal`: most handlers never do, and an
 * AbortController plus a timer per request cost more than the rest of the request path.
 * A cancel or a passed deadline before then is remembered and reported the moment the
 * signal is created.
 */
class ActiveRequest implements RequestContext {
  readonly deadline: number | undefined;
  private controller: AbortController | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private reason: PlexusError | undefined;
  private done = false;

  constructor(private readonly msg: Message) {
    this.deadline = msg.timeoutMs > 0 ? Date.now() + msg.timeoutMs : undefined;
  }

  get from(): string {
    return this.msg.from;
  }

  /** Cancelled, timed out, or the connection closed. */
  get aborted(): boolean {
    if (this.reason === undefined && this.deadline !== undefined && Date.now() >= this.deadline) this.reason = this.deadlineError();
    return this.reason !== undefined;
  }

  get signal(): AbortSignal {
    if (this.controller) return this.controller.signal;
    const ac = (this.controller = new AbortController());
    if (this.aborted) ac.abort(this.reason);
    else if (this.deadline !== undefined && !this.done) {
      // A peer may send any u32; past the largest timer setTimeout would fire at once.
      this.timer = setTimeout(() => this.abort(this.deadlineError()), Math.min(this.deadline - Date.now(), MAX_TIMER_MS));
    }
    return ac.signal;
  }

  abort(reason: PlexusError): void {
    this.reason ??= reason;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.controller && !this.controller.signal.aborted) this.controller.abort(this.reason);
  }

  /** The handler settled: no timer may outlive it (it would keep the process alive). */
  dispose(): void {
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private deadlineError(): PlexusError {
    return new PlexusError(ErrorCode.TIMEOUT, `the caller's ${this.msg.timeoutMs} ms deadline passed`);
  }
}

/**
 * The abort reason for a CANCEL. Its payload is either plain text (the caller or the
 * broker cancelled: PLEXUS_ERR_CANCELLED with that text) or the JSON wire form of a
 * coded error. A caller whose request timed out sends its PLEXUS_ERR_TIMEOUT that way:
 * its CANCEL always arrives a little before the responder's own deadline timer fires, so
 * with plain text the handler saw CANCELLED instead of TIMEOUT for a passed deadline.
 */
function cancelReason(reason: string): PlexusError {
  if (reason.startsWith('{')) {
    try {
      const wire = JSON.parse(reason) as { code?: unknown };
      if (isErrorCode(wire.code)) return PlexusError.fromWire(wire);
    } catch {
      // Not JSON after all: plain text.
    }
  }
  return new PlexusError(ErrorCode.CANCELLED, reason || 'cancelled by the caller');
}
