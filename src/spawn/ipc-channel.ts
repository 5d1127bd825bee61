/**
 * A byte channel over Node's IPC channel (`child_process` with `'ipc'` in stdio, and
 * `process.send` in the child). Bytes go as `{ plexus: Uint8Array }` messages, which
 * needs `serialization: 'advanced'` (JSON would turn them into objects of numbers);
 * messages without the `plexus` key are left to the application.
 */
import type { ByteChannel, ChannelHandlers, ChannelInfo } from '../transports/index.js';

/** The two ends look alike: a ChildProcess in the parent, `process` in the child. */
export interface IpcEndpoint {
  send?(message: unknown, callback?: (err: Error | null) => void): boolean;
  readonly connected?: boolean;
  disconnect?(): void;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'disconnect', listener: () => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'disconnect', listener: () => void): unknown;
}

/** Bytes sent and not yet confirmed by the IPC layer before write() says "wait". */
const IPC_HIGH_WATER_BYTES = 4 * 1024 * 1024;
const IPC_LOW_WATER_BYTES = 1024 * 1024;

interface PlexusIpcMessage {
  plexus?: Uint8Array;
  plexusEnd?: true;
}

function isPlexusMessage(m: unknown): m is PlexusIpcMessage {
  return typeof m === 'object' && m !== null && ('plexus' in m || 'plexusEnd' in m);
}

/**
 * A ByteChannel over an IPC endpoint. Backpressure: `write()` returns false past 4 MiB
 * not yet handed to the pipe, `drain` below 1 MiB. Inbound data cannot be pushed back
 * (IPC has no flow control the receiver controls), so while paused it is held here.
 */
export class IpcChannel implements ByteChannel {
  readonly info: ChannelInfo;
  private handlers: ChannelHandlers | undefined;
  private inflight = 0;
  private blocked = false;
  private paused = false;
  private held: Uint8Array[] = [];
  private done = false;
  private closeErr: Error | undefined;
  private closePending = false;
  private readonly onMessage = (m: unknown): void => {
    if (!isPlexusMessage(m) || this.done) return;
    if (m.plexusEnd) return this.finish(undefined);
    if (!(m.plexus instanceof Uint8Array)) return;
    if (this.paused || !this.handlers || this.held.length > 0) this.held.push(m.plexus);
    else this.handlers.data(m.plexus);
  };
  private readonly onDisconnect = (): void => this.finish(undefined);

  constructor(
    private readonly endpoint: IpcEndpoint,
    remote: string,
  ) {
    if (typeof endpoint.send !== 'function') throw new TypeError('the endpoint has no IPC channel (spawn with stdio "ipc")');
    this.info = { kind: 'ipc', remote };
    endpoint.on('message', this.onMessage);
    endpoint.on('disconnect', this.onDisconnect);
  }

  attach(handlers: ChannelHandlers): void {
    this.handlers = handlers;
    if (!this.done && !this.endpoint.connected) this.finish(undefined);
    // Whatever arrived (or closed) before attach is delivered on the next tick, not inside it.
    queueMicrotask(() => this.flushHeld());
  }

  write(chunk: Uint8Array): boolean {
    if (this.done) return true;
    this.inflight += chunk.length;
    this.endpoint.send!({ plexus: chunk }, (err) => {
      this.inflight -= chunk.length;
      if (err) return this.finish(err);
      if (this.blocked && this.inflight <= IPC_LOW_WATER_BYTES) {
        this.blocked = false;
        this.handlers?.drain();
      }
    });
    if (this.inflight > IPC_HIGH_WATER_BYTES) this.blocked = true;
    return !this.blocked;
  }

  end(): void {
    if (this.done) return;
    // The end marker follows the data in order; the channel itself stays for the app.
    this.endpoint.send!({ plexusEnd: true }, () => this.finish(undefined));
  }

  destroy(err?: Error): void {
    if (this.done) return;
    if (this.endpoint.connected) this.endpoint.send!({ plexusEnd: true }, () => undefined);
    this.held = [];
    this.finish(err);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.flushHeld();
  }

  private flushHeld(): void {
    while (!this.paused && this.held.length > 0 && this.handlers) this.handlers.data(this.held.shift()!);
    // A close that came while paused is delivered after what was held before it.
    if (this.done && this.closePending && this.held.length === 0 && this.handlers) {
      this.closePending = false;
      this.handlers.close(this.closeErr);
    }
  }

  private finish(err: Error | undefined): void {
    if (this.done) return;
    this.done = true;
    this.closeErr = err;
    this.closePending = true;
    this.endpoint.off('message', this.onMessage);
    this.endpoint.off('disconnect', this.onDisconnect);
    if (err) this.held = []; // a failure drops what was not delivered
    this.flushHeld();
  }
}
