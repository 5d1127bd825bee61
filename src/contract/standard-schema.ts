/**
 * The Standard Schema interface (https://standardschema.dev), declared here rather than
 * imported: it is a tiny type-only spec that zod, valibot, arktype and others implement,
 * and copying it avoids a dependency for one interface (the spec invites exactly that).
 */

/** A schema any Standard Schema library can produce. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  /** The Standard Schema properties. */
  readonly '~standard': StandardSchemaV1.Props<Input, Output>;
}

// eslint-disable-next-line @typescript-eslint/no-namespace -- the spec's own shape: StandardSchemaV1.InferOutput<…>
export declare namespace StandardSchemaV1 {
  /** The properties under `~standard`. */
  export interface Props<Input = unknown, Output = Input> {
    /** The version of the spec: 1. */
    readonly version: 1;
    /** The library that made the schema (`zod`, `valibot`, …). */
    readonly vendor: string;
    /** Validate an unknown value; sync or async. */
    readonly validate: (value: unknown) => Result<Output> | Promise<Result<Output>>;
    /** Type carriers only (never set at run time). */
    readonly types?: Types<Input, Output> | undefined;
  }

  /** Success or failure. */
  export type Result<Output> = SuccessResult<Output> | FailureResult;

  export interface SuccessResult<Output> {
    readonly value: Output;
    readonly issues?: undefined;
  }

  export interface FailureResult {
    readonly issues: ReadonlyArray<Issue>;
  }

  /** One validation problem. */
  export interface Issue {
    readonly message: string;
    readonly path?: ReadonlyArray<PropertyKey | PathSegment> | undefined;
  }

  export interface PathSegment {
    readonly key: PropertyKey;
  }

  export interface Types<Input = unknown, Output = Input> {
    readonly input: Input;
    readonly output: Output;
  }

  /** The type a schema accepts. */
  export type InferInput<Schema extends StandardSchemaV1> = NonNullable<Schema['~standard']['types']>['input'];
  /** The type a schema produces. */
  export type InferOutput<Schema extends StandardSchemaV1> = NonNullable<Schema['~standard']['types']>['output'];
}

/** An issue in JSON-safe form, as carried in `details.issues` of a validation error. */
export interface ValidationIssue {
  readonly message: string;
  /** Keys from the root to the offending value (symbols as their description). */
  readonly path?: (string | number)[];
}

/** True if `value` looks like a Standard Schema (has a `~standard.validate` function). */
export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  if (typeof value !== 'object' && typeof value !== 'function') return false;
  if (value === null) return false;
  const props = (value as { '~standard'?: { validate?: unknown; version?: unknown } })['~standard'];
  return typeof props === 'object' && props !== null && props.version === 1 && typeof props.validate === 'function';
}

/** Issues turned into plain JSON (paths of keys, symbols named), safe to send on the wire. */
export function plainIssues(issues: ReadonlyArray<StandardSchemaV1.Issue>): ValidationIssue[] {
  return issues.map((issue) => {
    const message = typeof issue.message === 'string' ? issue.message : String(issue.message);
    if (!issue.path || issue.path.length === 0) return { message };
    const path = issue.path.map((seg) => {
      const key = typeof seg === 'object' && seg !== null ? seg.key : seg;
      if (typeof key === 'number') return key;
      if (typeof key === 'symbol') return key.description ?? 'symbol';
      return String(key);
    });
    return { message, path };
  });
}
