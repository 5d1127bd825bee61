/**
 * Turning an HTTP request into a method's input: the JSON body (size-limited while it
 * streams in), the query string for safe GETs (coerced by the input's JSON Schema), and
 * the deadline header.
 */
import type { IncomingMessage } from 'node:http';
import { ErrorCode, PlexusError } from '../errors/index.js';
import type { JsonSchema } from './json-schema.js';

/** Request header that carries the caller's deadline in milliseconds. */
export const TIMEOUT_HEADER = 'x-plexus-timeout-ms';

/**
 * Read the body as JSON. `Content-Length` over the limit fails before a byte is read;
 * a chunked body fails the moment it passes the limit. An empty body is `{}`.
 */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  // No content type is taken as JSON; a different one is refused before reading.
  if (type !== '' && type !== 'application/json' && !type.endsWith('+json')) {
    throw new PlexusError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, `send the input as application/json (got ${type})`);
  }
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw tooLarge(maxBytes);
    chunks.push(chunk);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks, size).toString('utf8')) as unknown;
  } catch (err) {
    throw new PlexusError(ErrorCode.DECODE_FAILED, `the body is not valid JSON: ${(err as Error).message}`);
  }
}

function tooLarge(maxBytes: number): PlexusError {
  return new PlexusError(ErrorCode.PAYLOAD_TOO_LARGE, `the request body is larger than ${maxBytes} bytes`, { details: { maxBytes } });
}

/**
 * The input of a GET from its query: `?a=1&b=x&b=y` → `{ a: 1, b: ['x', 'y'] }`. Query
 * values are text, so each is converted to what the input's JSON Schema says the
 * property is (number, integer, boolean, or an array of those); without a schema they
 * stay strings, a repeated key becomes an array. The method's own schema validates the
 * result either way.
 */
export function queryToInput(params: URLSearchParams, schema: JsonSchema): Record<string, unknown> {
  const properties = (schema['properties'] ?? {}) as Record<string, JsonSchema>;
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const key of new Set(params.keys())) {
    const values = params.getAll(key);
    const prop = Object.prototype.hasOwnProperty.call(properties, key) ? properties[key]! : {};
    if (typeOf(prop) === 'array') {
      const item = (prop['items'] ?? {}) as JsonSchema;
      out[key] = values.map((v) => coerce(v, item));
    } else {
      out[key] = values.length === 1 ? coerce(values[0]!, prop) : values.map((v) => coerce(v, prop));
    }
  }
  // A plain object again: schemas may check the prototype.
  return { ...out };
}

function typeOf(schema: JsonSchema): string | undefined {
  const t = schema['type'];
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) return (t as unknown[]).find((x) => x !== 'null') as string | undefined;
  return undefined;
}

function coerce(value: string, schema: JsonSchema): unknown {
  switch (typeOf(schema)) {
    case 'number':
    case 'integer': {
      const n = value.trim() === '' ? NaN : Number(value);
      return Number.isFinite(n) ? n : value; // left as text, so validation names the problem
    }
    case 'boolean':
      return value === 'true' ? true : value === 'false' ? false : value;
    case 'null':
      return value === 'null' ? null : value;
    default:
      return value;
  }
}

/**
 * The deadline the caller asked for, in ms, capped at `maxMs`; undefined without the
 * header. A value that is not a positive integer is refused (400).
 */
export function requestedTimeout(req: IncomingMessage, maxMs: number): number | undefined {
  const raw = req.headers[TIMEOUT_HEADER];
  if (raw === undefined) return undefined;
  const text = Array.isArray(raw) ? raw[0]! : raw;
  if (!/^\d{1,10}$/.test(text.trim()) || Number(text) < 1) {
    throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `${TIMEOUT_HEADER} must be a positive integer number of milliseconds`);
  }
  return Math.min(Number(text), maxMs);
}
