/**
 * JSON Schema for a contract's Standard Schemas. Standard Schema itself has no JSON
 * Schema export, so this tries, in order:
 *
 * 1. `~standard.jsonSchema.input|output({ target: 'draft-2020-12' })`, the Standard JSON
 *    Schema hook (zod ≥ 4.2, arktype, …);
 * 2. a converter for the schema's vendor when we have one (valibot, by introspection);
 * 3. `{}` (accepts anything) with a note saying why, so the document never claims more
 *    than it knows. The gateway still validates every request with the real schema.
 */
import type { StandardSchemaV1 } from '../contract/index.js';
import { valibotToJsonSchema, type JsonSchema } from './valibot-json-schema.js';

export type { JsonSchema } from './valibot-json-schema.js';

/** Which side of a schema: what it accepts (input) or what it produces (output). */
export type SchemaSide = 'input' | 'output';

/** A converted schema and, when it is only partial or empty, why. */
export interface SchemaConversion {
  readonly schema: JsonSchema;
  /** Set when the schema is `{}` or left parts out. */
  readonly note?: string;
}

/** The Standard JSON Schema hook, when a library offers it. */
interface JsonSchemaHook {
  readonly input?: (options: { readonly target: string }) => unknown;
  readonly output?: (options: { readonly target: string }) => unknown;
}

const TARGET = 'draft-2020-12';

/** Convert one schema; never throws. */
export function toJsonSchema(schema: StandardSchemaV1, side: SchemaSide): SchemaConversion {
  const props = schema['~standard'] as StandardSchemaV1.Props & { readonly jsonSchema?: JsonSchemaHook };
  const hook = props.jsonSchema?.[side];
  if (typeof hook === 'function') {
    try {
      const out = hook.call(props.jsonSchema, { target: TARGET });
      if (typeof out === 'object' && out !== null) return { schema: withoutDialect(out as JsonSchema) };
    } catch (err) {
      return { schema: {}, note: `${props.vendor} could not express this schema as JSON Schema: ${(err as Error).message}` };
    }
  }
  if (props.vendor === 'valibot') {
    const unsupported = new Set<string>();
    const converted = valibotToJsonSchema(schema, unsupported);
    if (unsupported.size === 0) return { schema: converted };
    return { schema: converted, note: `parts left open (valibot ${[...unsupported].join(', ')} have no JSON Schema form here)` };
  }
  return { schema: {}, note: `no JSON Schema export for ${props.vendor} schemas: the document accepts anything here` };
}

/** OpenAPI 3.1 sets the dialect for the whole document; a per-schema `$schema` is noise. */
function withoutDialect(schema: JsonSchema): JsonSchema {
  const { $schema: _dialect, ...rest } = schema;
  return rest;
}
