import { ErrorCode, PlexusError } from '../../src/errors/index.js';
import { cbor, json, msgpack } from '../../src/codec/index.js';
import type { Codec } from '../../src/codec/index.js';

/** The three schemaless codecs, with how each treats a decoded `__proto__` key. */
export const schemaless: readonly { codec: Codec; proto: 'drop' | 'rename' }[] = [
  { codec: json, proto: 'drop' },
  { codec: msgpack, proto: 'rename' },
  { codec: cbor, proto: 'rename' },
];

/**
 * What a decoded value should look like: `-0` becomes `0`, Buffers become plain
 * Uint8Arrays, `__proto__` keys dropped or renamed to `__proto_`. Objects are rebuilt
 * with `Object.defineProperty`, so a `__proto__` key in the source is plain data here.
 */
export function model(value: unknown, proto: 'drop' | 'rename' | 'keep'): unknown {
  if (typeof value === 'number') return Object.is(value, -0) ? 0 : value;
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (value instanceof Date) return new Date(value.getTime());
  if (Array.isArray(value)) return value.map((v) => model(v, proto));
  if (typeof value === 'object' && value !== null) {
    const out = {};
    for (const k of Object.keys(value)) {
      const v = model((value as Record<string, unknown>)[k], proto);
      let key = k;
      if (k === '__proto__') {
        if (proto === 'drop') continue;
        if (proto === 'rename') key = '__proto_';
      }
      Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}

/** True when `err` is a PlexusError with `code`. */
export function isCoded(code: ErrorCode): (err: unknown) => boolean {
  return (err: unknown) => err instanceof PlexusError && err.code === code;
}

/** Walk a decoded value and fail if any object's prototype is not the ordinary one for its kind. */
export function assertOrdinaryPrototypes(value: unknown, path = '$'): void {
  if (typeof value !== 'object' || value === null) return;
  if (value instanceof Uint8Array || value instanceof Date) return;
  const proto: unknown = Object.getPrototypeOf(value);
  if (Array.isArray(value)) {
    if (proto !== Array.prototype) throw new Error(`${path}: array with a changed prototype`);
    value.forEach((v, i) => assertOrdinaryPrototypes(v, `${path}[${i}]`));
    return;
  }
  if (proto !== Object.prototype && proto !== null) throw new Error(`${path}: object with a changed prototype`);
  if (Object.prototype.hasOwnProperty.call(value, '__proto__')) throw new Error(`${path}: own __proto__ key`);
  for (const k of Object.keys(value)) assertOrdinaryPrototypes((value as Record<string, unknown>)[k], `${path}.${k}`);
}

export const DECODE_FAILED = ErrorCode.DECODE_FAILED;
export const ENCODE_FAILED = ErrorCode.ENCODE_FAILED;
