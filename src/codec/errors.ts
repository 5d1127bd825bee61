import { ErrorCode, PlexusError } from '../errors/index.js';
import { DEFAULT_MAX_DECODE_BYTES } from './types.js';

/** A `PLEXUS_ERR_DECODE_FAILED` error for codec `name`. */
export function decodeFailed(name: string, message: string, cause?: unknown, details?: Record<string, unknown>): PlexusError {
  return new PlexusError(ErrorCode.DECODE_FAILED, `${name}: ${message}`, { cause, details: { codec: name, ...details } });
}

/** A `PLEXUS_ERR_ENCODE_FAILED` error for codec `name`. */
export function encodeFailed(name: string, message: string, cause?: unknown): PlexusError {
  return new PlexusError(ErrorCode.ENCODE_FAILED, `${name}: ${message}`, { cause, details: { codec: name } });
}

/** Validate a `maxBytes` option and return it (or the default). */
export function resolveMaxBytes(maxBytes: number | undefined): number {
  if (maxBytes === undefined) return DEFAULT_MAX_DECODE_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `codec maxBytes must be a non-negative integer, got ${String(maxBytes)}`);
  }
  return maxBytes;
}

/** Throw unless `bytes` is a Uint8Array no larger than `maxBytes` (checked before any parsing). */
export function checkInput(name: string, bytes: unknown, maxBytes: number): asserts bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw decodeFailed(name, 'payload must be a Uint8Array', undefined, { reason: 'not-bytes' });
  if (bytes.byteLength > maxBytes) {
    throw decodeFailed(name, `payload of ${bytes.byteLength} bytes exceeds the ${maxBytes}-byte decode limit`, undefined, {
      reason: 'too-large',
      size: bytes.byteLength,
      maxBytes,
    });
  }
}

/** Rethrow a PlexusError unchanged; wrap anything else as a decode failure. */
export function asDecodeError(name: string, err: unknown): PlexusError {
  if (err instanceof PlexusError) return err;
  return decodeFailed(name, err instanceof Error ? err.message : 'malformed payload', err, { reason: 'malformed' });
}

/** Rethrow a PlexusError unchanged; wrap anything else as an encode failure. */
export function asEncodeError(name: string, err: unknown): PlexusError {
  if (err instanceof PlexusError) return err;
  return encodeFailed(name, err instanceof Error ? err.message : 'value cannot be encoded', err);
}
