import { CONN_HEADER, FROM_HEADER, PEER_HEADER, RESERVED_PREFIX, decodeHeaders, type Frame, type Headers } from '../wire/index.js';

const textDecoder = new TextDecoder();

/** What a responder can reply through. */
export interface ReplyChannel {
  publish(subject: string, data?: Payload, options?: PublishOptions): void;
}

/** Bytes or text to send (text is sent as UTF-8). */
export type Payload = Uint8Array | string;

/** Options for `publish`. */
export interface PublishOptions {
  /** Message headers (keys starting with ':' are reserved for the broker). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Send on the control lane, ahead of queued bulk data (S15). */
  readonly priority?: boolean;
  /** Reply subject for the receiver to answer on. */
  readonly reply?: string;
}

/**
 * A received message. Headers are decoded lazily; `from` is the sender identity the
 * broker stamped from the sender's authenticated connection (it cannot be forged).
 */
export class Message {
  private decoded: Headers | undefined;
  /** Subject it was published to. */
  readonly subject: string;
  /** Reply subject, or '' when the sender expects no answer. */
  readonly reply: string;

  /** @internal built by the connection from a received frame */
  constructor(
    private readonly frame: Pick<Frame, 'subject' | 'reply' | 'payload' | 'headers'>,
    /** For requests: the caller's timeout in ms (0 = none). */
    readonly timeoutMs: number,
    private readonly replier: ReplyChannel | undefined,
  ) {
    this.subject = frame.subject;
    this.reply = frame.reply;
  }

  /** The payload bytes (a view made on first access). */
  get data(): Uint8Array {
    return this.frame.payload;
  }

  /** Application headers (the broker's reserved ':' headers are left out). */
  get headers(): Readonly<Headers> {
    const all = this.allHeaders();
    const out: Headers = Object.create(null) as Headers;
    for (const k of Object.keys(all)) if (!k.startsWith(RESERVED_PREFIX)) out[k] = all[k]!;
    return out;
  }

  /** The sender's authenticated identity, as the broker stamped it. */
  get from(): string {
    return this.allHeaders()[FROM_HEADER] ?? '';
  }

  /** The sender's connection id, as the broker stamped it. */
  get fromConnection(): string {
    return this.allHeaders()[CONN_HEADER] ?? '';
  }

  /**
   * The sender's kernel-verified process credentials, when it came over a Unix socket
   * the broker could read them from (SO_PEERCRED); stamped by the broker, unforgeable.
   */
  get peer(): { readonly uid: number; readonly gid: number; readonly pid: number } | undefined {
    const v = this.allHeaders()[PEER_HEADER];
    const m = v === undefined ? null : /^uid=(\d+) gid=(\d+) pid=(\d+)$/.exec(v);
    return m ? { uid: Number(m[1]), gid: Number(m[2]), pid: Number(m[3]) } : undefined;
  }

  /** The payload as UTF-8 text. */
  string(): string {
    return textDecoder.decode(this.data);
  }

  /** The payload parsed as JSON. */
  json<T = unknown>(): T {
    return JSON.parse(this.string()) as T;
  }

  /** Answer a request. Returns false if the message has no reply subject. */
  respond(data?: Payload, options?: Omit<PublishOptions, 'reply'>): boolean {
    if (!this.reply || !this.replier) return false;
    this.replier.publish(this.reply, data, options);
    return true;
  }

  private allHeaders(): Headers {
    return (this.decoded ??= decodeHeaders(this.frame.headers) ?? (Object.create(null) as Headers));
  }
}
