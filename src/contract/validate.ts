/** Running a Standard Schema: sync results stay sync, async ones are awaited. */
import { validationError, type ValidationPlace } from './errors.js';
import type { StandardSchemaV1 } from './standard-schema.js';

/**
 * Validate `value` with `schema`; the schema's output (with its transforms and
 * defaults) or a `PLEXUS_ERR_VALIDATION` ServiceError. Returns a plain value when the
 * schema validated synchronously, so the common path allocates no promise.
 */
export function validateWith(
  schema: StandardSchemaV1,
  value: unknown,
  where: ValidationPlace,
  what: string,
): unknown {
  const result = schema['~standard'].validate(value);
  if (isPromiseLike(result)) return Promise.resolve(result).then((r) => unwrap(r, where, what));
  return unwrap(result, where, what);
}

/** True for promises and other thenables (some libraries return their own). */
export function isPromiseLike<T>(value: unknown): value is PromiseLike<T> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function unwrap(result: StandardSchemaV1.Result<unknown>, where: ValidationPlace, what: string): unknown {
  if (result.issues) throw validationError(where, what, result.issues);
  return result.value;
}

/** Validate and always return a promise (for async paths). */
export async function validateAsync(schema: StandardSchemaV1, value: unknown, where: ValidationPlace, what: string): Promise<unknown> {
  return validateWith(schema, value, where, what);
}
