/**
 * Input checks and small helpers every backend adapter needs in the same form, so a
 * subject, a header set or a deadline means the same thing on every backend.
 */
import { ErrorCode, PlexusError } from '../../errors/index.js';
import { subjectProblem } from '../../wire/index.js';

/** Header keys starting with these belong to Plexus (`:` broker-stamped, `Plexus-` adapter metadata). */
const RESERVED_LOWER = 'plexus-';

/** Throws PLEXUS_ERR_INVALID_SUBJECT unless `subject` is valid (wildcards only where allowed). */
export function checkSubject(subject: string, wildcards: boolean): void {
  const problem = subjectProblem(subject, wildcards);
  if (problem !== undefined) throw new PlexusError(ErrorCode.INVALID_SUBJECT, problem);
}

/**
 * Throws PLEXUS_ERR_INVALID_HEADERS for application headers a backend must not carry:
 * reserved keys (`:` and `Plexus-`, so a sender cannot pose as the adapter) and
 * non-string values.
 */
export function checkAppHeaders(headers: Readonly<Record<string, string>> | undefined): void {
  if (headers === undefined) return;
  for (const [k, v] of Object.entries(headers)) {
    if (k.startsWith(':') || k.toLowerCase().startsWith(RESERVED_LOWER)) {
      throw new PlexusError(ErrorCode.INVALID_HEADERS, `header ${JSON.stringify(k)} is reserved (':' and 'Plexus-' keys belong to Plexus)`);
    }
    if (typeof v !== 'string') throw new PlexusError(ErrorCode.INVALID_HEADERS, `header ${JSON.stringify(k)} must be a string`);
  }
}

/** Throws PLEXUS_ERR_INVALID_ARGUMENT unless `timeout` is a non-negative integer (ms). */
export function checkTimeout(timeout: number): void {
  if (!Number.isInteger(timeout) || timeout < 0) {
    throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `timeout must be a non-negative integer, got ${String(timeout)}`);
  }
}

/** Settle with `p`, or reject with PLEXUS_ERR_TIMEOUT after `ms`. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new PlexusError(ErrorCode.TIMEOUT, `${what} did not finish within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const textDecoder = new TextDecoder();

/** An error reply's payload (a PlexusError's JSON wire form) back as the coded error. */
export function errorFromReplyPayload(data: Uint8Array): PlexusError {
  try {
    return PlexusError.fromWire(JSON.parse(textDecoder.decode(data)));
  } catch {
    return new PlexusError(ErrorCode.INTERNAL, 'a responder sent a malformed error reply');
  }
}
