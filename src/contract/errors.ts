/**
 * The service error model. A handler throws `new ServiceError(code, message, details)`;
 * the caller gets a ServiceError with the same code, message and details. On the wire
 * it travels as a PlexusError `PLEXUS_ERR_SERVICE` whose details carry the application
 * code and details, so the core request path (which only knows Plexus codes) carries it
 * unchanged. Coded PlexusErrors (timeouts, no responders, cancelled) stay PlexusErrors;
 * anything else a handler throws becomes `PLEXUS_ERR_INTERNAL` without its message or
 * stack (those go to the server's log).
 */
import { ErrorCode, PlexusError } from '../errors/index.js';
import { plainIssues, type StandardSchemaV1, type ValidationIssue } from './standard-schema.js';

const brand = Symbol.for('plexus.service-error');

/** Longest application error code accepted; longer ones are cut. */
export const MAX_SERVICE_CODE_LENGTH = 128;

/** The JSON form a ServiceError takes inside `PLEXUS_ERR_SERVICE`'s details. */
export interface ServiceErrorWire {
  readonly code: string;
  readonly details?: unknown;
}

/**
 * An error a service reports to its caller: an application `code` (e.g.
 * `RIDE_UNAVAILABLE`), a message and JSON-serialisable `details`. It round-trips across
 * the bus with the same class, code, message and details. Validation failures are
 * ServiceErrors with code `PLEXUS_ERR_VALIDATION` and `details.issues`.
 *
 * `instanceof ServiceError` works across duplicate copies of the package (a
 * `Symbol.for` brand).
 */
export class ServiceError extends Error {
  /** The application code (or `PLEXUS_ERR_VALIDATION`). */
  readonly code: string;
  /** Structured details; must survive JSON (they cross the wire as JSON). */
  readonly details: unknown;

  constructor(code: string, message: string, details?: unknown, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    if (typeof code !== 'string' || code.length === 0) throw new PlexusError(ErrorCode.INVALID_ARGUMENT, 'a ServiceError needs a non-empty string code');
    this.code = code.length > MAX_SERVICE_CODE_LENGTH ? code.slice(0, MAX_SERVICE_CODE_LENGTH) : code;
    this.details = details;
    Object.defineProperty(this, brand, { value: true });
  }

  override get name(): string {
    return 'ServiceError';
  }

  static override [Symbol.hasInstance](this: unknown, value: unknown): boolean {
    if (this !== ServiceError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
  }

  /** The PlexusError that carries this error across the wire. */
  toPlexusError(): PlexusError {
    const wire: ServiceErrorWire = this.details === undefined ? { code: this.code } : { code: this.code, details: this.details };
    return new PlexusError(ErrorCode.SERVICE, this.message, { details: wire });
  }

  /** Rebuild a ServiceError from a received `PLEXUS_ERR_SERVICE`; other errors come back unchanged. */
  static fromPlexusError(err: PlexusError): ServiceError | PlexusError {
    if (err.code !== ErrorCode.SERVICE) return err;
    const d = err.details as Partial<ServiceErrorWire> | undefined;
    if (typeof d !== 'object' || d === null || typeof d.code !== 'string' || d.code === '') return err;
    return new ServiceError(d.code, err.message, d.details);
  }
}

/** Where validation failed. */
export type ValidationPlace = 'input' | 'output' | 'event';

/** A validation failure as a ServiceError (`PLEXUS_ERR_VALIDATION`, `details.issues`). */
export function validationError(
  where: ValidationPlace,
  what: string,
  issues: ReadonlyArray<StandardSchemaV1.Issue>,
): ServiceError {
  const plain: ValidationIssue[] = plainIssues(issues);
  const first = plain[0];
  const at = first?.path && first.path.length > 0 ? ` at ${first.path.join('.')}` : '';
  const summary = first ? `: ${first.message}${at}` : '';
  const more = plain.length > 1 ? ` (and ${plain.length - 1} more)` : '';
  return new ServiceError(ErrorCode.VALIDATION, `invalid ${where} for ${what}${summary}${more}`, { where, issues: plain });
}

/**
 * What a handler's thrown error becomes on the wire: a ServiceError's carrier, a coded
 * PlexusError as it is, anything else an internal error that names no detail of the
 * failure (the original goes to the log).
 */
export function toWireError(err: unknown, what: string, requestId: string): PlexusError {
  let wire: PlexusError;
  if (err instanceof ServiceError) wire = err.toPlexusError();
  else if (err instanceof PlexusError) wire = err;
  else return new PlexusError(ErrorCode.INTERNAL, `internal error in ${what} (request ${requestId})`);
  // Details that JSON cannot carry (BigInt, cycles) would make the reply unsendable and
  // leave the caller waiting for its timeout: send the error without them instead.
  try {
    JSON.stringify(wire.toWire());
    return wire;
  } catch {
    const code = err instanceof ServiceError ? err.code : undefined;
    return code === undefined
      ? new PlexusError(wire.code, wire.message)
      : new PlexusError(ErrorCode.SERVICE, wire.message, { details: { code, details: { unserializable: true } } });
  }
}

/** What a caller sees for an error from the request path. */
export function fromCallError(err: unknown): unknown {
  return err instanceof PlexusError ? ServiceError.fromPlexusError(err) : err;
}
