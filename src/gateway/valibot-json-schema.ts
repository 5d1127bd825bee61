/**
 * JSON Schema (draft 2020-12) from a valibot schema by introspection. Valibot 1.x has no
 * `~standard.jsonSchema` hook and its converter lives in a separate package we do not
 * depend on, but its schemas are plain objects that name their `type`, wrapped schemas,
 * entries and pipe actions, which is enough for the shapes an HTTP API uses. Anything
 * this does not know becomes `{}` (accept anything) and is reported, never guessed.
 */

/** A JSON Schema object. */
export type JsonSchema = Record<string, unknown>;

/** The parts of a valibot schema node we read. */
interface ValibotNode {
  readonly kind?: string;
  readonly type?: string;
  readonly wrapped?: ValibotNode;
  readonly entries?: Readonly<Record<string, ValibotNode>>;
  readonly item?: ValibotNode;
  readonly items?: readonly ValibotNode[];
  readonly options?: readonly unknown[];
  readonly literal?: unknown;
  readonly key?: ValibotNode;
  readonly value?: ValibotNode;
  readonly rest?: ValibotNode;
  readonly pipe?: readonly ValibotAction[];
  readonly default?: unknown;
}

interface ValibotAction {
  readonly kind?: string;
  readonly type?: string;
  readonly requirement?: unknown;
  readonly description?: string;
  readonly title?: string;
}

/** Deepest nesting converted; deeper parts become `{}` (guards against cyclic lazies). */
const MAX_DEPTH = 32;

/** Optional wrappers: the property may be missing from its object. */
const OPTIONAL = new Set(['optional', 'exact_optional', 'nullish', 'undefinedable']);

/**
 * Convert; `unsupported` collects what could not be expressed (as `type` names), so the
 * caller can say so in the document instead of silently accepting anything.
 */
export function valibotToJsonSchema(node: unknown, unsupported: Set<string>, depth = 0): JsonSchema {
  if (typeof node !== 'object' || node === null) return {};
  const n = node as ValibotNode;
  if (depth > MAX_DEPTH) {
    unsupported.add('(nesting too deep)');
    return {};
  }
  const next = (child: unknown): JsonSchema => valibotToJsonSchema(child, unsupported, depth + 1);
  const base = baseSchema(n, next, unsupported);
  return applyPipe(base, n.pipe);
}

function baseSchema(n: ValibotNode, next: (child: unknown) => JsonSchema, unsupported: Set<string>): JsonSchema {
  switch (n.type) {
    case 'string':
      return { type: 'string' };
    case 'number':
      return { type: 'number' };
    case 'boolean':
      return { type: 'boolean' };
    case 'null':
      return { type: 'null' };
    case 'any':
    case 'unknown':
      return {};
    case 'literal':
      return { const: n.literal };
    case 'picklist':
    case 'enum':
      return { enum: [...(n.options ?? [])] };
    case 'array':
      return { type: 'array', items: next(n.item) };
    case 'tuple':
    case 'loose_tuple':
    case 'strict_tuple':
      return { type: 'array', prefixItems: (n.items ?? []).map(next), ...(n.type === 'strict_tuple' ? { items: false } : {}) };
    case 'object':
    case 'loose_object':
    case 'strict_object':
    case 'object_with_rest':
      return objectSchema(n, next);
    case 'record':
      return { type: 'object', additionalProperties: next(n.value) };
    case 'union':
    case 'variant':
      return { anyOf: (n.options ?? []).map(next) };
    case 'intersect':
      return { allOf: (n.options ?? []).map(next) };
    case 'nullable':
    case 'nullish':
      return { anyOf: [next(n.wrapped), { type: 'null' }], ...defaultOf(n) };
    case 'optional':
    case 'exact_optional':
    case 'undefinedable':
    case 'non_optional':
    case 'non_nullable':
    case 'non_nullish':
      return { ...next(n.wrapped), ...defaultOf(n) };
    default:
      unsupported.add(String(n.type));
      return {};
  }
}

function defaultOf(n: ValibotNode): JsonSchema {
  // A default given as a function is computed per parse: nothing static to show.
  return n.default !== undefined && typeof n.default !== 'function' ? { default: n.default } : {};
}

function objectSchema(n: ValibotNode, next: (child: unknown) => JsonSchema): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const [key, child] of Object.entries(n.entries ?? {})) {
    properties[key] = next(child);
    if (!OPTIONAL.has(child?.type ?? '')) required.push(key);
  }
  const out: JsonSchema = { type: 'object', properties };
  if (required.length > 0) out['required'] = required;
  if (n.type === 'strict_object') out['additionalProperties'] = false;
  if (n.type === 'object_with_rest' && n.rest) out['additionalProperties'] = next(n.rest);
  return out;
}

/** Pipe validations and metadata that have a JSON Schema keyword. */
function applyPipe(schema: JsonSchema, pipe: readonly ValibotAction[] | undefined): JsonSchema {
  if (!pipe) return schema;
  const out = { ...schema };
  for (const action of pipe.slice(1)) {
    const req = action.requirement;
    switch (action.type) {
      case 'min_length':
        out[out['type'] === 'array' ? 'minItems' : 'minLength'] = req;
        break;
      case 'max_length':
        out[out['type'] === 'array' ? 'maxItems' : 'maxLength'] = req;
        break;
      case 'length':
        if (out['type'] === 'array') out['minItems'] = out['maxItems'] = req;
        else out['minLength'] = out['maxLength'] = req;
        break;
      case 'min_value':
        out['minimum'] = req;
        break;
      case 'max_value':
        out['maximum'] = req;
        break;
      case 'gt_value':
        out['exclusiveMinimum'] = req;
        break;
      case 'lt_value':
        out['exclusiveMaximum'] = req;
        break;
      case 'integer':
        out['type'] = 'integer';
        break;
      case 'regex':
        if (req instanceof RegExp) out['pattern'] = req.source;
        break;
      case 'email':
        out['format'] = 'email';
        break;
      case 'url':
        out['format'] = 'uri';
        break;
      case 'uuid':
        out['format'] = 'uuid';
        break;
      case 'iso_date':
        out['format'] = 'date';
        break;
      case 'iso_timestamp':
        out['format'] = 'date-time';
        break;
      case 'description':
        out['description'] = action.description;
        break;
      case 'title':
        out['title'] = action.title;
        break;
      default:
        // Transforms and checks without a keyword (custom checks) constrain more than the
        // schema says; the server still validates, so the document is merely looser.
        break;
    }
  }
  return out;
}
