/**
 * A byte channel: the one thing every byte-stream transport (unix, tcp, tls, ws, stdio,
 * inproc) provides. The shared framer (`FramedTransport`) turns it into frames.
 */
export interface ByteChannel {
  /**
   * Hand bytes to the channel. The caller never modifies `chunk` afterwards. Returns
   * false when the channel's own buffer is full: stop writing until `drain`.
   */
  write(chunk: Uint8Array): boolean;
  /** Graceful close once written bytes are flushed. */
  end(): void;
  /** Close now, dropping anything unsent. */
  destroy(err?: Error): void;
  /** Stop delivering inbound data (inbound backpressure). */
  pause(): void;
  resume(): void;
  /** Install the event handlers; called once, before any event is delivered. */
  attach(handlers: ChannelHandlers): void;
  /** Who is on the other side, as far as the transport knows. */
  readonly info: ChannelInfo;
}

/** Callbacks a channel delivers to. */
export interface ChannelHandlers {
  data(chunk: Uint8Array): void;
  drain(): void;
  /** Exactly once, after which no other callback runs. */
  close(err?: Error): void;
}

/** What the transport knows about the peer. */
export interface ChannelInfo {
  /** Transport scheme: 'inproc', 'unix', 'tcp', 'tls', 'ws', 'wss', 'stdio', 'shm', 'worker'. */
  readonly kind: string;
  /** Remote address as text, when there is one. */
  readonly remote?: string;
  /** TLS: the verified client certificate's subject CN, when mTLS authenticated it. */
  readonly certSubject?: string;
  /**
   * Unix sockets: the connecting process's credentials as the kernel reports them
   * (SO_PEERCRED, through the shared-memory addon; absent without it).
   */
  readonly peer?: { readonly pid: number; readonly uid: number; readonly gid: number };
}
