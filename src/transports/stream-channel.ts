import type { Readable, Writable } from 'node:stream';
import type { ByteChannel, ChannelHandlers, ChannelInfo } from './channel.js';

/**
 * A byte channel over a Node readable + writable pair: a socket (unix, tcp, tls) passes
 * itself as both; stdio passes stdin and stdout.
 */
export class StreamChannel implements ByteChannel {
  readonly info: ChannelInfo;
  private handlers: ChannelHandlers | undefined;
  private done = false;
  /** A socket is both ends at once; stdio is two separate streams. */
  private readonly duplex: boolean;
  /** What happened before attach(): an error, or the stream closing. */
  private early: { err: Error | undefined } | undefined;
  private readonly onEarlyError = (err: Error): void => {
    this.early = { err: this.early?.err ?? err };
  };
  private readonly onEarlyClose = (): void => {
    this.early ??= { err: undefined };
  };

  constructor(
    private readonly input: Readable,
    private readonly output: Writable,
    info: ChannelInfo,
  ) {
    this.info = info;
    this.duplex = (input as unknown) === (output as unknown);
    // Until attach(), remember an error or close instead of letting an unhandled 'error'
    // crash the process: a TLS 1.3 server refuses a client certificate only after the
    // client's handshake completed, i.e. after dial() resolved. (Data waits: the streams
    // stay paused until a 'data' listener is added.)
    for (const s of this.duplex ? [input] : [input, output]) {
      s.on('error', this.onEarlyError);
      s.once('close', this.onEarlyClose);
    }
  }

  attach(handlers: ChannelHandlers): void {
    this.handlers = handlers;
    for (const s of this.duplex ? [this.input] : [this.input, this.output]) {
      s.off('error', this.onEarlyError);
      s.off('close', this.onEarlyClose);
    }
    const finish = (err?: Error): void => {
      if (this.done) return;
      this.done = true;
      handlers.close(err);
    };
    const early = this.early;
    if (early) queueMicrotask(() => finish(early.err));
    this.input.on('data', (chunk: Buffer) => handlers.data(chunk));
    this.output.on('drain', () => handlers.drain());
    this.input.on('error', (err) => {
      finish(err);
      this.destroy();
    });
    if (!this.duplex) {
      this.output.on('error', (err) => {
        finish(err);
        this.destroy();
      });
    }
    this.input.on('close', () => finish());
    this.input.on('end', () => {
      // The peer finished writing: for a framed connection that is the end.
      if (this.duplex) return; // a socket emits 'close' next
      finish();
    });
    if (!this.duplex) this.output.on('close', () => finish());
  }

  write(chunk: Uint8Array): boolean {
    if (this.done) return true;
    return this.output.write(chunk);
  }

  end(): void {
    this.output.end();
  }

  destroy(err?: Error): void {
    this.input.destroy(err);
    if (!this.duplex) this.output.destroy(err);
    if (!this.done && this.handlers && !this.duplex) {
      this.done = true;
      this.handlers.close(err);
    }
  }

  pause(): void {
    this.input.pause();
  }

  resume(): void {
    this.input.resume();
  }
}
