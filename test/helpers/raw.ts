/**
 * A raw socket to the broker that bypasses the client: hand-encoded frames out, decoded
 * frames in. For hostile-input, identity-forgery and slow-consumer tests.
 */
import net from 'node:net';
import { FrameDecoder, FrameType, PROTOCOL_VERSION, encodeFrame, type Frame, type FrameInit } from '../../src/wire/index.js';
import type { Cleanup } from './plexus.js';
import { WaitTimeoutError, deferred, waitFor, within } from './wait.js';

/** An ERR frame's payload. */
export interface WireErr {
  readonly code: string;
  readonly message: string;
  /** The ERR frame's subject and id. */
  readonly subject: string;
  readonly id: number;
}

/** A raw connection to a `tcp://` or `unix://` address. */
export class RawClient {
  readonly frames: Frame[] = [];
  /** Bytes received (the socket may be paused to simulate a consumer that never reads). */
  bytesIn = 0;
  decodeError: Error | undefined;
  private readonly decoder = new FrameDecoder({ maxFrameBytes: 256 * 1024 * 1024 });
  private readonly closedD = deferred<void>();
  private closedFlag = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.bytesIn += chunk.length;
      const err = this.decoder.push(chunk, { onFrame: (f) => this.frames.push(copyFrame(f)) });
      if (err) this.decodeError = err;
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closedFlag = true;
      this.closedD.resolve();
    });
  }

  /** Connect to `address` (tcp:// or unix://); destroyed when the test ends. */
  static async connect(cleanup: Cleanup, address: string): Promise<RawClient> {
    const url = new URL(address);
    const socket =
      url.protocol === 'unix:'
        ? net.connect(decodeURIComponent(url.pathname))
        : net.connect({ host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port) });
    await within(
      new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      }),
      3000,
      `raw connect to ${address}`,
    );
    const raw = new RawClient(socket);
    cleanup.defer(() => socket.destroy());
    return raw;
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  /** Write one encoded frame. */
  send(init: FrameInit): void {
    this.socket.write(encodeFrame(init));
  }

  /** Write raw bytes. */
  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Send HELLO (with extra fields) and wait for WELCOME; returns its JSON. */
  async hello(fields: Record<string, unknown> = {}, ms = 3000): Promise<Record<string, unknown>> {
    this.send({ type: FrameType.HELLO, payload: json({ version: PROTOCOL_VERSION, ...fields }) });
    const f = await this.waitFrame((x) => x.type === FrameType.WELCOME || x.type === FrameType.ERR, ms, 'WELCOME');
    if (f.type === FrameType.ERR) throw new Error(`HELLO refused: ${Buffer.from(f.payload).toString()}`);
    return JSON.parse(Buffer.from(f.payload).toString()) as Record<string, unknown>;
  }

  /** Wait for (and return) the first frame at index >= `from` matching `pred`. */
  async waitFrame(pred: (f: Frame) => boolean, ms: number, what = 'frame', from = 0): Promise<Frame> {
    let found: Frame | undefined;
    await waitFor(
      () => {
        for (let i = from; i < this.frames.length; i++) {
          if (pred(this.frames[i]!)) {
            found = this.frames[i];
            return true;
          }
        }
        return false;
      },
      ms,
      what,
    );
    return found!;
  }

  /** ERR frames received so far, parsed. */
  get errors(): WireErr[] {
    return this.frames.filter((f) => f.type === FrameType.ERR).map(parseErr);
  }

  /** Wait for the `n`th ERR frame (1-based) and return it. */
  async waitErr(ms: number, n = 1): Promise<WireErr> {
    await waitFor(() => this.errors.length >= n, ms, `ERR #${n}`);
    return this.errors[n - 1]!;
  }

  /** Wait until the broker closes the socket. */
  async waitClosed(ms: number, what = 'raw socket close'): Promise<void> {
    try {
      await within(this.closedD.promise, ms, what);
    } catch (err) {
      if (err instanceof WaitTimeoutError) throw new WaitTimeoutError(`${err.message}; frames: ${this.describe()}`);
      throw err;
    }
  }

  /** Types of the frames received, for failure messages. */
  describe(): string {
    return this.frames.map((f) => (f.type === FrameType.ERR ? `ERR(${parseErr(f).code})` : String(f.type))).join(',') || 'none';
  }
}

/** Parse an ERR frame. */
export function parseErr(f: Frame): WireErr {
  const w = JSON.parse(Buffer.from(f.payload).toString('utf8')) as { code: string; message: string };
  return { code: w.code, message: w.message, subject: f.subject, id: f.id };
}

/** JSON as UTF-8 bytes. */
export function json(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value));
}

function copyFrame(f: Frame): Frame {
  // The decoder hands out views of its chunk; keep our own copy of what we store.
  return { ...f, headers: f.headers ? Uint8Array.from(f.headers) : undefined, payload: Uint8Array.from(f.payload) };
}
