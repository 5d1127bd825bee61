/**
 * Raw Unix-socket baselines: 4-byte big-endian length prefix + payload, writes coalesced
 * into 64 KiB chunks (as Plexus and the nats client do), Node's socket backpressure
 * honoured (`write()` false → wait for 'drain'). No subjects, headers, routing or checks:
 * this is the ceiling a framed protocol over a Unix socket can reach in Node.
 */
import net from 'node:net';
import { once } from 'node:events';
import type { OnMessage, Publisher, Subscriber } from './types.js';

const CHUNK_BYTES = 64 * 1024;
/** Refuse absurd length prefixes before allocating (a corrupt stream would show here). */
const MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** Incremental decoder for the length-prefixed stream; an incomplete frame is a state. */
export class LengthPrefixDecoder {
  private readonly head = Buffer.alloc(4);
  private headFill = 0;
  private body: Buffer | undefined;
  private bodyFill = 0;
  frames = 0;

  constructor(private readonly onFrame: (payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    let pos = 0;
    const n = chunk.length;
    while (pos < n) {
      if (this.body) {
        const take = Math.min(this.body.length - this.bodyFill, n - pos);
        chunk.copy(this.body, this.bodyFill, pos, pos + take);
        this.bodyFill += take;
        pos += take;
        if (this.bodyFill === this.body.length) this.emitPartial();
        continue;
      }
      if (this.headFill > 0 || n - pos < 4) {
        while (this.headFill < 4 && pos < n) this.head[this.headFill++] = chunk[pos++]!;
        if (this.headFill < 4) return;
        this.headFill = 0;
        this.startBody(this.head.readUInt32BE(0));
        continue;
      }
      const len = chunk.readUInt32BE(pos);
      if (n - pos - 4 >= len) {
        this.frames++;
        this.onFrame(chunk.subarray(pos + 4, pos + 4 + len));
        pos += 4 + len;
        continue;
      }
      pos += 4;
      this.startBody(len);
    }
  }

  private startBody(len: number): void {
    if (len > MAX_FRAME_BYTES) throw new Error(`frame of ${len} bytes exceeds ${MAX_FRAME_BYTES}`);
    this.body = Buffer.allocUnsafe(len);
    this.bodyFill = 0;
    if (len === 0) this.emitPartial();
  }

  private emitPartial(): void {
    const b = this.body!;
    this.body = undefined;
    this.frames++;
    this.onFrame(b);
  }
}

/** Coalescing frame writer over a socket. `append` returns false once the socket pushes back. */
export class FrameWriter {
  private buf = Buffer.allocUnsafe(CHUNK_BYTES);
  private pos = 0;
  private blocked = false;

  constructor(private readonly socket: net.Socket) {}

  append(payload: Uint8Array): boolean {
    const need = 4 + payload.length;
    if (this.pos + need > this.buf.length) {
      this.flush();
      if (need > this.buf.length) this.buf = Buffer.allocUnsafe(need);
    }
    this.buf.writeUInt32BE(payload.length, this.pos);
    this.buf.set(payload, this.pos + 4);
    this.pos += need;
    if (this.pos >= CHUNK_BYTES) this.flush();
    return !this.blocked;
  }

  /** Hand the filled part to the socket; the buffer is never reused after a write. */
  flush(): void {
    if (this.pos === 0) return;
    const out = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(CHUNK_BYTES);
    this.pos = 0;
    if (!this.socket.write(out)) this.blocked = true;
  }

  async drained(): Promise<void> {
    if (!this.blocked) return;
    await once(this.socket, 'drain');
    this.blocked = false;
  }
}

export async function dialUnix(path: string): Promise<net.Socket> {
  const socket = net.connect(path);
  await once(socket, 'connect');
  return socket;
}

/** Publisher side: connects to `path` (the subscriber, or the relay's input). */
export async function rawPublisher(path: string): Promise<Publisher> {
  const socket = await dialUnix(path);
  const w = new FrameWriter(socket);
  return {
    async publishAll(payload, count) {
      for (let i = 0; i < count; i++) {
        if (!w.append(payload)) await w.drained();
      }
      w.flush();
      await w.drained();
    },
    close: async () => {
      socket.end();
    },
  };
}

/** Subscriber side, direct: listens on `path` and decodes what the publisher sends. */
export async function rawDirectSubscriber(path: string, onMessage: OnMessage): Promise<Subscriber> {
  const server = net.createServer((socket) => {
    const d = new LengthPrefixDecoder((p) => onMessage(p.length));
    socket.on('data', (chunk: Buffer) => d.push(chunk));
    socket.on('error', () => undefined);
  });
  server.listen(path);
  await once(server, 'listening');
  return {
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Subscriber side, through the relay: dials the relay's output socket and waits for its
 * one-byte hello (sent once the relay has registered it), then decodes frames.
 */
export async function rawRelaySubscriber(path: string, onMessage: OnMessage): Promise<Subscriber> {
  const socket = await dialUnix(path);
  const d = new LengthPrefixDecoder((p) => onMessage(p.length));
  await new Promise<void>((resolve) => {
    let greeted = false;
    socket.on('data', (chunk: Buffer) => {
      if (!greeted) {
        greeted = true;
        resolve();
        if (chunk.length > 1) d.push(chunk.subarray(1));
        return;
      }
      d.push(chunk);
    });
  });
  return {
    close: async () => {
      socket.destroy();
    },
  };
}
