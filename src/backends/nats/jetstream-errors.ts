/** JetStream failures as coded Plexus errors (the nats client throws plain errors). */
import { ErrorCode, PlexusError } from '../../errors/index.js';
import { fromNatsError } from './bus.js';

/** JetStream's error code for a failed expected-last-sequence check (compare-and-set). */
const WRONG_LAST_SEQUENCE = 10071;

/**
 * `err` from a JetStream call doing `what` as a PlexusError. `mode` says what a failed
 * compare-and-set means: the key exists (`create`) or moved on (`update`).
 */
export function fromJetStreamError(err: unknown, what: string, mode?: 'create' | 'update'): PlexusError {
  if (err instanceof PlexusError) return err;
  const e = err as { code?: unknown; message?: unknown; api_error?: { err_code?: number } } | undefined;
  const text = typeof e?.message === 'string' ? e.message : String(err);
  const cas = e?.api_error?.err_code === WRONG_LAST_SEQUENCE || /wrong last sequence/i.test(text);
  if (cas && mode === 'create') return new PlexusError(ErrorCode.KV_KEY_EXISTS, `${what}: the key exists`, { cause: err });
  if (cas) return new PlexusError(ErrorCode.KV_WRONG_REVISION, `${what}: the key is not at the expected revision (${text})`, { cause: err });
  if (e?.code === 'TIMEOUT') return new PlexusError(ErrorCode.TIMEOUT, `${what}: JetStream did not answer in time`, { cause: err });
  if (e?.code === '503' || /jetstream not enabled|no responders/i.test(text)) {
    return new PlexusError(ErrorCode.BACKEND_UNAVAILABLE, `${what}: JetStream is not available on this server (${text})`, { cause: err });
  }
  if (/not found/i.test(text)) return new PlexusError(ErrorCode.DURABLE_NOT_FOUND, `${what}: ${text}`, { cause: err });
  const coded = fromNatsError(err);
  return coded.code === ErrorCode.CONNECTION_LOST ? new PlexusError(ErrorCode.BACKEND_UNAVAILABLE, `${what}: ${text}`, { cause: err }) : coded;
}
