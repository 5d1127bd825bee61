/**
 * Scatter-gather: one request to a subject every matching subscriber answers, and every
 * answer that arrives within the timeout (or until enough have). Used for `$SRV` verbs
 * and intents sent to all handlers.
 */
import type { Connection, Payload } from '../client/index.js';
import { Message } from '../client/message.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { Flag, FrameType, type Frame } from '../wire/index.js';

/** Options of {@link gather}. */
export interface GatherOptions {
  /** How long to collect answers. Required: a gather has no natural end. */
  readonly timeoutMs: number;
  /** Stop once this many answers have arrived. @default unbounded (wait for the timeout) */
  readonly expect?: number;
  /** Stop early when this returns true for an answer (it is kept). */
  readonly until?: (answer: GatherAnswer) => boolean;
  readonly signal?: AbortSignal;
  readonly headers?: Readonly<Record<string, string>>;
}

/** One answer: the reply message, or the responder's coded error. */
export type GatherAnswer = { readonly msg: Message; readonly error?: undefined } | { readonly msg: Message; readonly error: PlexusError };

/** Most answers one gather keeps (a runaway fan-out must not grow memory without bound). */
export const MAX_GATHER_ANSWERS = 10_000;

/**
 * Send a request on `subject` and collect answers until the timeout, `expect` answers,
 * or `until` says stop. Resolves with what arrived (possibly nothing); rejects with
 * PLEXUS_ERR_NO_RESPONDERS at once when nobody listens, or the signal's reason.
 */
export function gather(bus: Connection, subject: string, data: Payload | undefined, options: GatherOptions): Promise<GatherAnswer[]> {
  const { timeoutMs, signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (!(timeoutMs > 0 && timeoutMs <= 2 ** 31 - 1)) {
    return Promise.reject(new PlexusError(ErrorCode.INVALID_ARGUMENT, `timeoutMs must be in (0, 2^31-1], got ${timeoutMs}`));
  }
  const payload = typeof data === 'string' ? new TextEncoder().encode(data) : (data ?? new Uint8Array(0));
  let headers: Uint8Array | undefined;
  try {
    bus.checkPublish(subject, payload);
    headers = bus.encodeHeadersChecked(options.headers);
  } catch (err) {
    return Promise.reject(err);
  }
  const token = `g${bus.nextToken()}`;
  const reply = bus.newInbox(token);
  const answers: GatherAnswer[] = [];
  return new Promise<GatherAnswer[]>((resolve, reject) => {
    let done = false;
    const finish = (err?: unknown): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      bus.removeRoute(token);
      if (err !== undefined) reject(err);
      else resolve(answers);
    };
    const onAbort = (): void => finish(signal!.reason);
    const timer = setTimeout(() => finish(), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    bus.addRoute(token, {
      onFrame(f: Frame) {
        if (done || f.type !== FrameType.MSG) return;
        const msg = new Message(f, 0, undefined);
        const answer: GatherAnswer = (f.flags & Flag.ERROR) !== 0 ? { msg, error: errorOf(msg) } : { msg };
        answers.push(answer);
        if (answers.length >= Math.min(options.expect ?? Infinity, MAX_GATHER_ANSWERS) || options.until?.(answer)) finish();
      },
      onError(err: PlexusError) {
        // NO_RESPONDERS comes at once when nobody subscribes; later errors end the gather too.
        finish(answers.length === 0 ? err : undefined);
      },
    });
    try {
      const sent = bus.sendFrame(
        { type: FrameType.PUB, flags: Flag.REQUEST, aux: Math.ceil(timeoutMs), subject, reply, ...(headers ? { headers } : {}), payload },
        'skip',
      );
      if (sent < 0) finish(new PlexusError(ErrorCode.CONNECTION_LOST, `not connected: cannot ask ${subject}`));
    } catch (err) {
      finish(err);
    }
  });
}

function errorOf(msg: Message): PlexusError {
  try {
    return PlexusError.fromWire(msg.json());
  } catch {
    return new PlexusError(ErrorCode.HANDLER_FAILED, 'a responder sent an unreadable error');
  }
}
