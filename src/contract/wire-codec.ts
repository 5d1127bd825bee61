/**
 * Codec choice on the service path. The caller encodes with the call's codec (the
 * contract's by default) and names it in `content-type`; the server decodes with the
 * codec that header names (from the built-in ones, the contract's, and any it was given)
 * and answers in the same codec, so the reply needs no header of its own.
 */
import { contentTypeHeader, defaultCodecs, type Codec, type CodecRegistry } from '../codec/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import type { MethodDefinition, ServiceContract } from './types.js';

/** The registry a server reads requests with. */
export function serverRegistry(contract: ServiceContract, extra: readonly Codec[] = []): CodecRegistry {
  const own: Codec[] = [];
  for (const m of Object.values(contract.methods)) if (m.codecs) own.push(m.codecs.input);
  return defaultCodecs.with(contract.codec, ...own, ...extra);
}

/** The codec a request goes out in, and the one its reply (or items) come back in. */
export interface CallCodecs {
  readonly request: Codec;
  readonly reply: Codec;
}

/** A call's codecs: the method's own, else the call's/client's/contract's for both ways. */
export function callCodecs(def: MethodDefinition, chosen: Codec): CallCodecs {
  return def.codecs ? { request: def.codecs.input, reply: def.codecs.output } : { request: chosen, reply: chosen };
}

/** The codec a server replies in: the method's output codec for its own input codec, else the request's. */
export function replyCodec(def: MethodDefinition, request: Codec): Codec {
  return def.codecs && request === def.codecs.input ? def.codecs.output : request;
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
