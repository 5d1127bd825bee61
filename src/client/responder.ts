import { ErrorCode, PlexusError, isErrorCode } from '../errors/index.js';
import { Flag, FrameType, type FrameInit } from '../wire/index.js';
import type { Message, Payload } from './message.js';
import { toBytes } from './payload.js';
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
  private readonly active = new Map<string, AbortController>();

  constructor(private readonly host: ResponderHost) {}

  /** Handlers currently running. */
  get running(): number {
    return this.active.size;
  }

  handle(msg: Message, handler: RequestHandler): void {
    if (!msg.reply) return; // an event, not a request: nobody to answer
    const reply = msg.reply;
    const ac = new AbortController();
    this.active.set(reply, ac);
    const deadline = msg.timeoutMs > 0 ? Date.now() + msg.timeoutMs : undefined;
    const timer =
      msg.timeoutMs > 0
        ? setTimeout(
            () => ac.abort(new PlexusError(ErrorCode.TIMEOUT, `the caller's ${msg.timeoutMs} ms deadline passed`)),
            // A peer may send any u32; past the largest timer setTimeout would fire at once.
            Math.min(msg.timeoutMs, MAX_TIMER_MS),
          )
        : undefined;
    // Once aborted (cancel, caller gone, connection closed) the deadline timer has nothing
    // left to do. It used to be cleared only when the handler settled, so a handler still
    // running at close() kept the process alive until the caller's deadline passed.
    if (timer) ac.signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
    const ctx: RequestContext = { signal: ac.signal, deadline, from: msg.from };
    const finish = (): void => {
      if (timer) clearTimeout(timer);
      if (this.active.get(reply) === ac) this.active.delete(reply);
    };
    let result: Payload | void | Promise<Payload | void>;
    try {
      result = handler(msg, ctx);
    } catch (err) {
      this.replyError(reply, err, ac.signal);
      finish();
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (value) => {
          if (!ac.signal.aborted) this.reply(reply, value);
          finish();
        },
        (err: unknown) => {
          this.replyError(reply, err, ac.signal);
          finish();
        },
      );
    } else {
      if (!ac.signal.aborted) this.reply(reply, result);
      finish();
    }
  }

  /** The caller cancelled (or went away). */
  cancel(reply: string, reason: string): void {
    const ac = this.active.get(reply);
    if (!ac) return;
    this.active.delete(reply);
    ac.abort(cancelReason(reason));
  }

  /** Abort every running handler (connection closing). */
  abortAll(reason: PlexusError): void {
    for (const ac of this.active.values()) ac.abort(reason);
    this.active.clear();
  }

  /** Wait for running handlers to finish, or the deadline. */
  async idle(deadline: number): Promise<void> {
    while (this.active.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  }

  private reply(reply: string, value: Payload | void): void {
    try {
      this.host.sendFrame({ type: FrameType.PUB, subject: reply, payload: toBytes(value ?? undefined) }, 'skip');
    } catch {
      // Closed while the handler ran: nothing to answer on.
    }
  }

  private replyError(reply: string, err: unknown, signal: AbortSignal): void {
    if (signal.aborted) return;
    const pe =
      err instanceof PlexusError
        ? err
        : new PlexusError(ErrorCode.HANDLER_FAILED, err instanceof Error ? err.message : String(err));
    try {
      this.host.sendFrame(
        { type: FrameType.PUB, flags: Flag.ERROR, subject: reply, payload: Buffer.from(JSON.stringify(pe.toWire())) },
        'skip',
      );
    } catch {
      // Closed while the handler ran.
    }
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
