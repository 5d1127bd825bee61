/**
 * Bulk byte-stream adapters: a raw Unix socket (the ceiling) and Plexus streams.
 *
 * Plexus streams (`bus.stream(subject)` / `bus.acceptStreams(subject)`) are new and still
 * moving, so they are driven by shape, not by type: the runner checks that
 * `Connection.prototype.stream` exists (else it prints "plexus stream: not implemented
 * yet"); then `acceptStreams(subject)` must yield incoming streams that are async
 * iterables of byte chunks, and `stream(subject)` must give a writer with
 * `write(chunk)` (a promise that resolves inside the reader's credit window, or a
 * boolean) and `end()`. Any mismatch is reported as an error, never as a number.
 */
import net from 'node:net';
import { once } from 'node:events';
import { Connection, connect } from '../../src/index.js';
import { dialUnix } from './raw.js';

const CHUNK_BYTES = 64 * 1024;

/** Receives byte counts; `end` when the sender finished. */
export interface ByteSink {
  data(bytes: number): void;
  end(): void;
}

export interface StreamWriter {
  /** Send `total` bytes in 64 KiB chunks, respecting backpressure, then end the stream. */
  writeAll(total: number): Promise<void>;
  close(): Promise<void>;
}

export interface StreamReader {
  close(): Promise<void>;
}

// ---- raw Unix socket -------------------------------------------------------------

export async function rawStreamReader(path: string, sink: ByteSink): Promise<StreamReader> {
  const server = net.createServer((socket) => {
    socket.on('data', (chunk: Buffer) => sink.data(chunk.length));
    socket.on('end', () => sink.end());
    socket.on('error', () => undefined);
  });
  server.listen(path);
  await once(server, 'listening');
  return { close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Reader through the relay: dial its output, wait for the one-byte hello, then count. */
export async function rawRelayStreamReader(path: string, sink: ByteSink): Promise<StreamReader> {
  const socket = await dialUnix(path);
  await new Promise<void>((resolve) => {
    let greeted = false;
    socket.on('data', (chunk: Buffer) => {
      if (!greeted) {
        greeted = true;
        resolve();
        if (chunk.length > 1) sink.data(chunk.length - 1);
        return;
      }
      sink.data(chunk.length);
    });
  });
  socket.on('end', () => sink.end());
  return {
    close: async () => {
      socket.destroy();
    },
  };
}

export async function rawStreamWriter(path: string): Promise<StreamWriter> {
  const socket = await dialUnix(path);
  const chunk = Buffer.alloc(CHUNK_BYTES, 0x63);
  return {
    async writeAll(total) {
      for (let sent = 0; sent < total; sent += CHUNK_BYTES) {
        const piece = total - sent >= CHUNK_BYTES ? chunk : chunk.subarray(0, total - sent);
        if (!socket.write(piece)) await once(socket, 'drain');
      }
      await new Promise<void>((resolve) => socket.end(resolve));
    },
    close: async () => {
      socket.destroy();
    },
  };
}

// ---- Plexus streams (feature-detected) ---------------------------------------------

type Method = (...args: unknown[]) => unknown;

function method(obj: unknown, name: string): Method | undefined {
  const m = (obj as Record<string, unknown> | null)?.[name];
  return typeof m === 'function' ? (m as Method).bind(obj) : undefined;
}

function asyncIterable(x: unknown): AsyncIterable<unknown> | undefined {
  if (x && typeof (x as Record<symbol, unknown>)[Symbol.asyncIterator] === 'function') return x as AsyncIterable<unknown>;
  return undefined;
}

function byteLength(x: unknown): number {
  if (x instanceof Uint8Array) return x.length;
  const data = (x as { data?: unknown } | null)?.data;
  if (data instanceof Uint8Array) return data.length;
  throw new Error('plexus stream: incoming chunks are neither Uint8Array nor { data: Uint8Array }');
}

/** True once the streams API has landed in the client. */
export function plexusStreamsAvailable(): boolean {
  return typeof (Connection.prototype as unknown as Record<string, unknown>)['stream'] === 'function';
}

export async function plexusStreamReader(url: string, subject: string, sink: ByteSink, window?: number): Promise<StreamReader> {
  const bus = await connect(url, { name: 'bench-stream-reader' });
  const accept = method(bus, 'acceptStreams');
  if (!accept) throw new Error('plexus stream: Connection.acceptStreams is missing');
  const incoming = asyncIterable(await accept(subject, window ? { window } : {}));
  if (!incoming) throw new Error('plexus stream: acceptStreams(subject) did not return an async iterable');
  await bus.flush();
  void (async () => {
    for await (const s of incoming) {
      const chunks = asyncIterable(s) ?? asyncIterable((s as { readable?: unknown } | null)?.readable);
      if (!chunks) throw new Error('plexus stream: an accepted stream is not async-iterable');
      for await (const c of chunks) sink.data(byteLength(c));
      sink.end();
      return;
    }
  })().catch((err: unknown) => {
    process.send?.({ t: 'error', message: err instanceof Error ? err.message : String(err) });
  });
  return { close: () => bus.close() };
}

export async function plexusStreamWriter(url: string, subject: string, window?: number): Promise<StreamWriter> {
  const bus = await connect(url, { name: 'bench-stream-writer' });
  const open = method(bus, 'stream');
  if (!open) throw new Error('plexus stream: Connection.stream is missing');
  return {
    async writeAll(total) {
      const s = await open(subject, window ? { window } : {});
      const write = method(s, 'write');
      const end = method(s, 'end') ?? method(s, 'close');
      if (!write || !end) throw new Error('plexus stream: the writer has no write() and end()/close()');
      const drained = method(s, 'writable') ?? method(s, 'drained');
      const chunk = new Uint8Array(CHUNK_BYTES).fill(0x63);
      for (let sent = 0; sent < total; sent += CHUNK_BYTES) {
        const piece = total - sent >= CHUNK_BYTES ? chunk : chunk.subarray(0, total - sent);
        const r = write(piece);
        if (r instanceof Promise) await r;
        else if (r === false) {
          if (drained) await drained();
          else if (method(s, 'once')) await once(s as NodeJS.EventEmitter, 'drain');
          else throw new Error('plexus stream: write() returned false but the writer offers no way to wait');
        }
      }
      const e = end();
      if (e instanceof Promise) await e;
    },
    close: () => bus.close(),
  };
}
