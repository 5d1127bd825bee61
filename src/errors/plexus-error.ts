import { ErrorCode, isErrorCode } from './codes.js';

const brand = Symbol.for('plexus.error');

/** The JSON shape an error takes on the wire (the payload of an ERR frame). */
export interface WireError {
  readonly code: string;
  readonly message: string;
  readonly details?: unknown;
}

/**
 * The one base class for every error Plexus raises. Match on `code`.
 *
 * `instanceof PlexusError` works across duplicate copies of the package because
 * the check uses a `Symbol.for` brand rather than prototype identity.
 */
export class PlexusError extends Error {
  /** Stable machine-readable code, `PLEXUS_ERR_*`. */
  readonly code: ErrorCode;
  /** Optional structured details (JSON-serialisable when sent over the wire). */
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details;
    Object.defineProperty(this, brand, { value: true });
  }

  override get name(): string {
    return 'PlexusError';
  }

  static override [Symbol.hasInstance](this: unknown, value: unknown): boolean {
    // Subclasses keep ordinary prototype semantics; only the base class is branded.
    if (this !== PlexusError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
  }

  /** The error's wire form. */
  toWire(): WireError {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }

  /** Rebuild an error from its wire form; unknown codes become `PLEXUS_ERR_INTERNAL`. */
  static fromWire(wire: unknown): PlexusError {
    if (typeof wire !== 'object' || wire === null) {
      return new PlexusError(ErrorCode.INTERNAL, 'malformed error from peer');
    }
    const w = wire as Partial<WireError>;
    const code = isErrorCode(w.code) ? w.code : ErrorCode.INTERNAL;
    const message = typeof w.message === 'string' ? w.message : 'error from peer';
    return new PlexusError(code, message, { details: w.details });
  }
}

/** Shorthand constructor used throughout the code base. */
export function plexusError(code: ErrorCode, message: string, options?: { cause?: unknown; details?: unknown }): PlexusError {
  return new PlexusError(code, message, options);
}
