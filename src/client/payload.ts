import { EMPTY } from '../wire/index.js';
import type { Payload } from './message.js';

// The client also runs in browsers (dist/browser), so nothing here may need Node. Node's
// Buffer is still used when present, read through globalThis (the browser build rejects
// free references to Node globals): for short strings Buffer.from is ~3x faster than
// TextEncoder in Node 20, and publishing text is a hot path.
const encoder = new TextEncoder();
const nodeBuffer = (globalThis as { Buffer?: { from(text: string, encoding: 'utf8'): Uint8Array; concat(parts: readonly Uint8Array[]): Uint8Array } }).Buffer;
const encodeUtf8: (text: string) => Uint8Array = nodeBuffer ? (text) => nodeBuffer.from(text, 'utf8') : (text) => encoder.encode(text);
// TextDecoder is faster than Buffer#toString here; ignoreBOM keeps a leading U+FEFF as
// text, as Buffer#toString does.
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** Text as UTF-8 bytes. */
export function utf8(text: string): Uint8Array {
  return encodeUtf8(text);
}

/** UTF-8 bytes as text (malformed sequences become U+FFFD). */
export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** Payload to bytes: strings as UTF-8, undefined as empty. */
export function toBytes(data: Payload | undefined): Uint8Array {
  if (data === undefined) return EMPTY;
  if (typeof data === 'string') return encodeUtf8(data);
  return data;
}

/** Byte arrays joined into one (a Buffer in Node, as before the browser build). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (nodeBuffer) return nodeBuffer.concat(parts);
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Random bytes as base64url text (the host's crypto.getRandomValues: Node 20 and browsers). */
export function randomId(bytes: number): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  let bin = '';
  for (const b of raw) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Promise-returning sleep that an AbortSignal can cut short (resolves early, never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
