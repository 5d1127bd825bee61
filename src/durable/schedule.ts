/**
 * Delayed delivery and per-message TTL. A publisher asks with the headers `ds-delay-ms`,
 * `ds-deliver-at` and `ds-ttl-ms`; on capture the service turns them into absolute
 * times kept in the record's reserved headers (`:deliver-at`, `:expires-at`), so they
 * mean the same after a restart. Other `ds-` headers are reserved and dropped.
 */
import { ErrorCode, PlexusError } from '../errors/index.js';
import {
  DELAY_HEADER,
  DELIVER_AT_HEADER,
  MAX_DELAY_MS,
  MAX_TTL_MS,
  SERVICE_HEADER_PREFIX,
  TTL_HEADER,
} from './config.js';

/** Reserved record header: epoch ms before which the message is not delivered. */
export const STORED_DELIVER_AT = ':deliver-at';
/** Reserved record header: epoch ms from which the message is never delivered. */
export const STORED_EXPIRES_AT = ':expires-at';

function intHeader(headers: Readonly<Record<string, string>>, key: string, max: number): number | undefined {
  const raw = headers[key];
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(v) || v > max) {
    throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `header ${key} must be an integer from 0 to ${max}`, { details: { [key]: raw } });
  }
  return v;
}

/**
 * Split a captured message's headers into what is stored as the user's headers and the
 * reserved schedule headers, resolved against `now`. Bad values are
 * `PLEXUS_ERR_INVALID_ARGUMENT`.
 */
export function scheduleHeaders(headers: Readonly<Record<string, string>>, now: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(headers)) if (!k.startsWith(SERVICE_HEADER_PREFIX)) out[k] = headers[k]!;
  const delay = intHeader(headers, DELAY_HEADER, MAX_DELAY_MS);
  const at = intHeader(headers, DELIVER_AT_HEADER, now + MAX_DELAY_MS);
  const ttl = intHeader(headers, TTL_HEADER, MAX_TTL_MS);
  const deliverAt = Math.max(delay !== undefined ? now + delay : 0, at ?? 0);
  if (deliverAt > now) out[STORED_DELIVER_AT] = String(deliverAt);
  if (ttl !== undefined) out[STORED_EXPIRES_AT] = String(now + ttl);
  return out;
}

/** When a stored message may be delivered and until when (from its decoded headers). */
export interface Schedule {
  /** Not before (epoch ms); 0 = at once. */
  readonly deliverAt: number;
  /** Never at or after (epoch ms); Infinity = no TTL. */
  readonly expiresAt: number;
}

const NONE: Schedule = { deliverAt: 0, expiresAt: Infinity };

export function scheduleOf(headers: Readonly<Record<string, string>> | undefined): Schedule {
  if (!headers) return NONE;
  const d = headers[STORED_DELIVER_AT];
  const e = headers[STORED_EXPIRES_AT];
  if (d === undefined && e === undefined) return NONE;
  return { deliverAt: d === undefined ? 0 : Number(d), expiresAt: e === undefined ? Infinity : Number(e) };
}
