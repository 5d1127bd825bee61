/**
 * Errors across the gRPC bridge, both ways, by one table (docs/grpc.md repeats it).
 *
 * Plexus → gRPC: a handler's error becomes a status code by the table below; the exact
 * Plexus error (code, message, details — a ServiceError's application code included)
 * also travels in the `plexus-error-bin` trailer as JSON, so a Plexus caller on the other
 * side (the bus → gRPC bridge) rebuilds the very same error. Plain gRPC clients see the
 * status code and message.
 *
 * gRPC → Plexus: with a `plexus-error-bin` trailer, that error; otherwise CANCELLED,
 * DEADLINE_EXCEEDED, PERMISSION_DENIED, UNAUTHENTICATED and UNAVAILABLE become the
 * matching PlexusError, and every other status a ServiceError whose code is the status
 * name (`NOT_FOUND`, `INVALID_ARGUMENT`, …) with `details.grpcStatus`.
 */
import type { Metadata, StatusObject } from '@grpc/grpc-js';
import { ServiceError } from '../contract/errors.js';
import { ErrorCode, PlexusError } from '../errors/index.js';

/** gRPC status codes (grpc/doc/statuscodes.md), as numbers, so this file needs no grpc-js at run time. */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** A gRPC status code. */
export type GrpcStatus = (typeof GrpcStatus)[keyof typeof GrpcStatus];

const STATUS_NAMES = new Map<number, string>(Object.entries(GrpcStatus).map(([k, v]) => [v, k]));

/** The trailer that carries the exact Plexus error. */
export const PLEXUS_ERROR_TRAILER = 'plexus-error-bin';

/** Plexus error code → gRPC status. Codes not listed map to UNKNOWN. */
export const STATUS_OF_PLEXUS_CODE: Readonly<Partial<Record<string, GrpcStatus>>> = {
  [ErrorCode.VALIDATION]: GrpcStatus.INVALID_ARGUMENT,
  [ErrorCode.INVALID_ARGUMENT]: GrpcStatus.INVALID_ARGUMENT,
  [ErrorCode.DECODE_FAILED]: GrpcStatus.INVALID_ARGUMENT,
  [ErrorCode.ENCODE_FAILED]: GrpcStatus.INTERNAL,
  [ErrorCode.TIMEOUT]: GrpcStatus.DEADLINE_EXCEEDED,
  [ErrorCode.CANCELLED]: GrpcStatus.CANCELLED,
  [ErrorCode.NO_RESPONDERS]: GrpcStatus.UNAVAILABLE,
  [ErrorCode.RESPONDER_GONE]: GrpcStatus.UNAVAILABLE,
  [ErrorCode.CONNECTION_LOST]: GrpcStatus.UNAVAILABLE,
  [ErrorCode.CONNECTION_CLOSED]: GrpcStatus.UNAVAILABLE,
  [ErrorCode.CONNECT_FAILED]: GrpcStatus.UNAVAILABLE,
  [ErrorCode.SHUTTING_DOWN]: GrpcStatus.UNAVAILABLE,
  [ErrorCode.PERMISSION_DENIED]: GrpcStatus.PERMISSION_DENIED,
  [ErrorCode.AUTH_FAILED]: GrpcStatus.UNAUTHENTICATED,
  [ErrorCode.PAYLOAD_TOO_LARGE]: GrpcStatus.RESOURCE_EXHAUSTED,
  [ErrorCode.SLOW_CONSUMER]: GrpcStatus.RESOURCE_EXHAUSTED,
  [ErrorCode.OUTBOUND_BUFFER_FULL]: GrpcStatus.RESOURCE_EXHAUSTED,
  [ErrorCode.INTERNAL]: GrpcStatus.INTERNAL,
};

/** gRPC status → Plexus error code, for statuses Plexus has its own code for. */
const PLEXUS_CODE_OF_STATUS: ReadonlyMap<number, ErrorCode> = new Map<number, ErrorCode>([
  [GrpcStatus.CANCELLED, ErrorCode.CANCELLED],
  [GrpcStatus.DEADLINE_EXCEEDED, ErrorCode.TIMEOUT],
  [GrpcStatus.PERMISSION_DENIED, ErrorCode.PERMISSION_DENIED],
  [GrpcStatus.UNAUTHENTICATED, ErrorCode.AUTH_FAILED],
  [GrpcStatus.UNAVAILABLE, ErrorCode.NO_RESPONDERS],
]);

/** The name of a status code (`NOT_FOUND`), or `UNKNOWN` for numbers outside the table. */
export function statusName(code: number): string {
  return STATUS_NAMES.get(code) ?? 'UNKNOWN';
}

/**
 * The gRPC status for an error a Plexus handler raised (already in wire form: a
 * PlexusError, a ServiceError's carrier being `PLEXUS_ERR_SERVICE`). A ServiceError whose
 * application code is a gRPC status name (`NOT_FOUND`, `ALREADY_EXISTS`, …) gets that
 * status; other application codes get UNKNOWN.
 */
export function statusOf(err: PlexusError): GrpcStatus {
  if (err.code === ErrorCode.SERVICE) {
    const app = (err.details as { code?: unknown } | undefined)?.code;
    if (app === ErrorCode.VALIDATION) return GrpcStatus.INVALID_ARGUMENT;
    if (typeof app === 'string' && Object.hasOwn(GrpcStatus, app) && app !== 'OK') return GrpcStatus[app as keyof typeof GrpcStatus];
    return GrpcStatus.UNKNOWN;
  }
  return STATUS_OF_PLEXUS_CODE[err.code] ?? GrpcStatus.UNKNOWN;
}

/** The status object a grpc-js handler fails with, trailer included. */
export function toStatus(err: PlexusError, metadata: Metadata): Partial<StatusObject> {
  metadata.set(PLEXUS_ERROR_TRAILER, Buffer.from(JSON.stringify(err.toWire()), 'utf8'));
  return { code: statusOf(err), details: err.message, metadata };
}

/** A gRPC call's failure as the Plexus error a bus caller should see. */
export function fromStatus(status: { code?: number; details?: string; message?: string; metadata?: Metadata }): PlexusError | ServiceError {
  const trailer = status.metadata?.get(PLEXUS_ERROR_TRAILER)[0];
  if (trailer !== undefined) {
    try {
      const wire = JSON.parse(Buffer.isBuffer(trailer) ? trailer.toString('utf8') : String(trailer)) as unknown;
      return ServiceError.fromPlexusError(PlexusError.fromWire(wire));
    } catch {
      // A malformed trailer: fall back to the status code.
    }
  }
  const code = status.code ?? GrpcStatus.UNKNOWN;
  const message = status.details || status.message || statusName(code);
  const plexus = PLEXUS_CODE_OF_STATUS.get(code);
  if (plexus !== undefined) return new PlexusError(plexus, `gRPC ${statusName(code)}: ${message}`, { details: { grpcStatus: code } });
  return new ServiceError(statusName(code), message, { grpcStatus: code });
}
