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

  constructor(
    private readonly input: Readable,
    private readonly output: Writable,
    info: ChannelInfo,
  ) {
    this.info = info;
    this.duplex = (input as unknown) === (output as unknown);
  }

  attach(handlers: ChannelHandlers): void {
    this.handlers = handlers;
    const finish = (err?: Error): void => {
      if (this.done) return;
      this.done = true;
      handlers.close(err);
    };
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
