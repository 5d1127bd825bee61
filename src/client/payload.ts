import { EMPTY } from '../wire/index.js';
import type { Payload } from './message.js';

/** Payload to bytes: strings as UTF-8, undefined as empty. */
export function toBytes(data: Payload | undefined): Uint8Array {
  if (data === undefined) return EMPTY;
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  return data;
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
