import { FrameDecoder, type Frame, type FrameSink } from '../../src/wire/index.js';
import type { PlexusError } from '../../src/errors/index.js';

/** Lower-case hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Bytes of a hex string (whitespace ignored). */
export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, '');
  if (!/^(?:[0-9a-f]{2})*$/i.test(clean)) throw new Error(`not hex: ${hex}`);
  return new Uint8Array(Buffer.from(clean, 'hex'));
}

/** A sink that keeps every frame, copying the views so later chunks cannot alias them. */
export class CollectSink implements FrameSink {
  readonly frames: Frame[] = [];
  onFrame(frame: Frame): void {
    this.frames.push({
      ...frame,
      headers: frame.headers === undefined ? undefined : frame.headers.slice(),
      payload: frame.payload.slice(),
    });
  }
}

/** Result of feeding chunks to a fresh decoder. */
export interface FeedResult {
  readonly frames: Frame[];
  readonly error: PlexusError | undefined;
  readonly decoder: FrameDecoder;
}

/** Feed `chunks` in order to a new decoder; stops at the first error. */
export function feed(chunks: readonly Uint8Array[], maxFrameBytes = 1 << 20): FeedResult {
  const decoder = new FrameDecoder({ maxFrameBytes });
  const sink = new CollectSink();
  let error: PlexusError | undefined;
  for (const c of chunks) {
    error = decoder.push(c, sink);
    if (error) break;
  }
  return { frames: sink.frames, error, decoder };
}

/** Split `bytes` at the given cut points (sorted, deduplicated, clamped). */
export function splitAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => Math.max(0, Math.min(bytes.length, c))))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

/** Concatenate byte arrays. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
