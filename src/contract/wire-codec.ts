/**
 * Codec choice on the service path. The caller encodes with the call's codec (the
 * contract's by default) and names it in `content-type`; the server decodes with the
 * codec that header names (from the built-in ones, the contract's, and any it was given)
 * and answers in the same codec, so the reply needs no header of its own.
 */
import { contentTypeHeader, defaultCodecs, type Codec, type CodecRegistry } from '../codec/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import type { ServiceContract } from './types.js';

/** The registry a server reads requests with. */
export function serverRegistry(contract: ServiceContract, extra: readonly Codec[] = []): CodecRegistry {
  return defaultCodecs.with(contract.codec, ...extra);
}

/** The codec a request was encoded with: its content-type, else the contract's codec. */
export function requestCodec(headers: Readonly<Record<string, string>>, fallback: Codec, registry: CodecRegistry): Codec {
  const ct = headers[contentTypeHeader];
  if (ct === undefined || ct === '') return fallback;
  const codec = registry.get(ct);
  if (!codec) {
    throw new PlexusError(ErrorCode.DECODE_FAILED, `no codec for content type ${JSON.stringify(ct)}`, {
      details: { codec: 'service', reason: 'unknown-content-type', contentType: ct },
    });
  }
  return codec;
}
