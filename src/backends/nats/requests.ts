import type { Msg, NatsConnection } from 'nats';
import { ErrorCode, PlexusError } from '../../errors/index.js';
import type { Message } from '../../client/message.js';
import { MAX_TIMER_MS } from '../../client/requests.js';
import { NATS_HEADER, toMessage } from './headers.js';

/** Subject every serving adapter listens on for cancel notices (core NATS has no CANCEL). */
export const CANCEL_SUBJECT = '_PLEXUS.CANCEL';

/** NATS's status code for "no subscriber on that subject". */
const NO_RESPONDERS_STATUS = 503;

const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();

interface Pending {
  readonly subject: string;
  settle(err: unknown, msg?: Message): void;
}

/**
 * Request/reply over core NATS: one wildcard inbox subscription per connection, a token
 * per request, a timer per deadline. On timeout or abort the caller publishes a cancel
 * notice on {@link CANCEL_SUBJECT} naming the reply subject, which every serving adapter
 * hears (a broadcast: NATS cannot route it to the one responder that has the request).
 */
export class NatsRequests {
  private readonly pending = new Map<string, Pending>();
  private inboxSubscribed = false;
  private seq = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly inboxPrefix: string,
    /** Publishes a cancel notice for `reply` on {@link CANCEL_SUBJECT}. */
    private readonly publishCancel: (reply: string, payload: Uint8Array) => void,
  ) {}

  /** Requests waiting for a reply. */
  get size(): number {
    return this.pending.size;
  }

  start(subject: string, publish: (reply: string) => void, timeoutMs: number, signal: AbortSignal | undefined): Promise<Message> {
    if (signal?.aborted) return Promise.reject(signal.reason as unknown);
    this.ensureInbox();
    const reply = `${this.inboxPrefix}.${(++this.seq).toString(36)}`;
    return new Promise<Message>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = (): void => {
        const reason = signal!.reason as unknown;
        this.sendCancel(reply, reason instanceof PlexusError ? reason : new PlexusError(ErrorCode.CANCELLED, 'cancelled by the caller'));
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
          this.sendCancel(reply, err);
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

  /** Fail every waiting request (the connection closed). */
  failAll(err: PlexusError): void {
    for (const p of [...this.pending.values()]) p.settle(err);
  }

  private ensureInbox(): void {
    if (this.inboxSubscribed) return;
    this.inboxSubscribed = true;
    this.nc.subscribe(`${this.inboxPrefix}.*`, { callback: (err, m) => (err ? undefined : this.onReply(m)) });
  }

  private onReply(m: Msg): void {
    const p = this.pending.get(m.subject);
    if (!p) return; // late reply after a timeout or cancel
    if (m.headers?.code === NO_RESPONDERS_STATUS) {
      p.settle(new PlexusError(ErrorCode.NO_RESPONDERS, `no responders for ${p.subject}`));
    } else if (m.headers?.has(NATS_HEADER.error)) {
      p.settle(errorFromReply(m.data));
    } else {
      p.settle(undefined, toMessage(m, undefined));
    }
  }

  private sendCancel(reply: string, reason: PlexusError): void {
    try {
      this.publishCancel(reply, textEncoder.encode(JSON.stringify(reason.toWire())));
    } catch {
      // Closed: the responder's own deadline (carried in Plexus-Timeout) still fires.
    }
  }
}

function errorFromReply(data: Uint8Array): PlexusError {
  try {
    return PlexusError.fromWire(JSON.parse(textDecoder.decode(data)));
  } catch {
    return new PlexusError(ErrorCode.INTERNAL, 'a responder sent a malformed error reply');
  }
}
