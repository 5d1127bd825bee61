/**
 * HTTP status codes for Plexus and service errors, and the JSON error body. The table is
 * documented in docs/gateway.md; keep the two in step.
 */
import { ServiceError } from '../contract/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';

/** The body of every error response. */
export interface HttpErrorBody {
  readonly code: string;
  readonly message: string;
  readonly details?: unknown;
}

/** Plexus codes with a status of their own; any other Plexus code is a 500. */
export const PLEXUS_STATUS: Readonly<Record<string, number>> = {
  [ErrorCode.VALIDATION]: 400,
  [ErrorCode.INVALID_ARGUMENT]: 400,
  [ErrorCode.DECODE_FAILED]: 400,
  [ErrorCode.AUTH_FAILED]: 401,
  [ErrorCode.PERMISSION_DENIED]: 403,
  [ErrorCode.ROUTE_NOT_FOUND]: 404,
  [ErrorCode.METHOD_NOT_ALLOWED]: 405,
  [ErrorCode.PAYLOAD_TOO_LARGE]: 413,
  [ErrorCode.UNSUPPORTED_MEDIA_TYPE]: 415,
  [ErrorCode.CANCELLED]: 499,
  [ErrorCode.RESPONDER_GONE]: 502,
  [ErrorCode.NO_RESPONDERS]: 503,
  [ErrorCode.GATEWAY_BUSY]: 503,
  [ErrorCode.CONNECTION_LOST]: 503,
  [ErrorCode.CONNECTION_CLOSED]: 503,
  [ErrorCode.SHUTTING_DOWN]: 503,
  [ErrorCode.TIMEOUT]: 504,
};

/**
 * Application (ServiceError) codes by naming convention, checked in order against the
 * code's last `_`-separated words (then an `INVALID_` prefix is 400); no match is 422
 * (understood, but refused).
 */
export const SERVICE_CODE_STATUS: ReadonlyArray<readonly [suffix: string, status: number]> = [
  ['NOT_FOUND', 404],
  ['UNAUTHENTICATED', 401],
  ['UNAUTHORIZED', 401],
  ['FORBIDDEN', 403],
  ['PERMISSION_DENIED', 403],
  ['ALREADY_EXISTS', 409],
  ['EXISTS', 409],
  ['CONFLICT', 409],
  ['INVALID', 400],
  ['BAD_REQUEST', 400],
  ['PRECONDITION_FAILED', 412],
  ['TOO_MANY_REQUESTS', 429],
  ['RATE_LIMITED', 429],
  ['UNAVAILABLE', 503],
  ['NOT_IMPLEMENTED', 501],
];

/** Status of an application error no rule matched. */
export const DEFAULT_SERVICE_STATUS = 422;

/** Optional per-code overrides (`{ RIDE_UNAVAILABLE: 409 }`); checked before the table. */
export type StatusOverrides = Readonly<Record<string, number>>;

/** The status and body for an error thrown by a call or by the gateway itself. */
export function errorResponse(err: unknown, overrides: StatusOverrides = {}): { status: number; body: HttpErrorBody } {
  if (err instanceof ServiceError) {
    const body: HttpErrorBody = err.details === undefined ? { code: err.code, message: err.message } : { code: err.code, message: err.message, details: err.details };
    return { status: overrides[err.code] ?? PLEXUS_STATUS[err.code] ?? serviceStatus(err.code), body };
  }
  if (err instanceof PlexusError) {
    const body: HttpErrorBody = err.details === undefined ? { code: err.code, message: err.message } : { code: err.code, message: err.message, details: err.details };
    return { status: overrides[err.code] ?? PLEXUS_STATUS[err.code] ?? 500, body };
  }
  // Not ours: say nothing about it to the HTTP client (the gateway logs it).
  return { status: 500, body: { code: ErrorCode.INTERNAL, message: 'internal gateway error' } };
}

/** Status of an application code by the suffix table. */
export function serviceStatus(code: string): number {
  const upper = code.toUpperCase();
  for (const [suffix, status] of SERVICE_CODE_STATUS) {
    if (upper === suffix || upper.endsWith(`_${suffix}`)) return status;
  }
  if (upper.startsWith('INVALID_')) return 400;
  return DEFAULT_SERVICE_STATUS;
}
