/**
 * Coordination primitives of the durable service — locks, semaphores, barriers and
 * condition variables: their `$PLX.CO.*` subjects, limits and request checks. Shared by
 * the service (src/durable/coord-*.ts) and the clients (src/patterns/lock.ts …).
 * See docs/coordination.md.
 */
import { ErrorCode, PlexusError } from '../errors/index.js';

/** Prefix of every coordination subject: `$PLX.CO.<KIND>.<OP>.<name>`. */
export const CO_PREFIX = '$PLX.CO';
export const CoKind = { LOCK: 'LOCK', SEMAPHORE: 'SEM', BARRIER: 'BARRIER', COND: 'COND' } as const;
export type CoKind = (typeof CoKind)[keyof typeof CoKind];
export const CoOp = { ACQUIRE: 'ACQUIRE', RENEW: 'RENEW', RELEASE: 'RELEASE', INFO: 'INFO', WAIT: 'WAIT', NOTIFY: 'NOTIFY' } as const;
export type CoOp = (typeof CoOp)[keyof typeof CoOp];

/** The subject of `op` on the primitive `name` of `kind`. */
export function coSubject(kind: CoKind, op: CoOp, name: string): string {
  return `${CO_PREFIX}.${kind}.${op}.${name}`;
}

/** Shortest lease TTL. */
export const MIN_TTL_MS = 50;
/** Longest lease TTL (10 minutes). */
export const MAX_TTL_MS = 600_000;
/** Longest one waiting request is held by the service (clients wait longer by asking again). */
export const MAX_WAIT_MS = 60_000;
/** Most permits of a semaphore; most parties of a barrier. */
export const MAX_PERMITS = 10_000;
/** Most requests waiting on one primitive at once. */
export const MAX_WAITERS = 10_000;

const NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;
const OWNER_RE = /^[A-Za-z0-9_:.@/-]{1,128}$/;

function bad(message: string, details?: unknown): PlexusError {
  return new PlexusError(ErrorCode.INVALID_ARGUMENT, message, details === undefined ? undefined : { details });
}

/** Names of locks, semaphores, barriers and condition variables: 1–64 of `[A-Za-z0-9_-]`. */
export function checkCoName(v: unknown): string {
  if (typeof v !== 'string' || !NAME_RE.test(v)) throw bad('name must be 1-64 of [A-Za-z0-9_-]', { name: v });
  return v;
}

/** Owner / party ids: 1–128 of `[A-Za-z0-9_:.@/-]` (clients make random ones). */
export function checkOwner(v: unknown, what = 'owner'): string {
  if (typeof v !== 'string' || !OWNER_RE.test(v)) throw bad(`${what} must be 1-128 of [A-Za-z0-9_:.@/-]`, { [what]: v });
  return v;
}

/** An integer field in [min, max], or `def` when absent. */
export function intField(o: Record<string, unknown>, key: string, min: number, max: number, def?: number): number {
  const v = o[key];
  if (v === undefined || v === null) {
    if (def === undefined) throw bad(`${key} is required`);
    return def;
  }
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw bad(`${key} must be an integer from ${min} to ${max}`, { [key]: v });
  return v;
}

/** A lease as the service hands it out. */
export interface WireLease {
  readonly name: string;
  readonly owner: string;
  /** Fencing token: strictly increasing per lock / semaphore, across service restarts. */
  readonly token: number;
  /** Epoch ms (service clock) when the lease ends unless renewed. */
  readonly expiresAt: number;
  readonly ttlMs: number;
}

/** Reply of ACQUIRE: a lease, or `{ acquired: false }` when the wait ran out. */
export type AcquireReply = ({ readonly acquired: true } & WireLease) | { readonly acquired: false };
