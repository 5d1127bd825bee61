import { EMPTY } from '../wire/index.js';
import type { Payload } from './message.js';

// Host codecs, not Node's Buffer: the client also runs in browsers (dist/browser).
const encoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF as text, as Buffer#toString did.
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** Text as UTF-8 bytes. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** UTF-8 bytes as text (malformed sequences become U+FFFD). */
export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** Payload to bytes: strings as UTF-8, undefined as empty. */
export function toBytes(data: Payload | undefined): Uint8Array {
  if (data === undefined) return EMPTY;
  if (typeof data === 'string') return encoder.encode(data);
  return data;
}

/** Byte arrays joined into one. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
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
