/**
 * The OpenAPI 3.1 document served at `/openapi.json`, generated from the route table:
 * one POST per unary or server-streaming (NDJSON) method (plus GET for `safe` ones, with the input's properties as
 * query parameters), schemas under `components.schemas`, and one error response shape.
 * Where a schema could not be converted the document says so (`x-plexus-schema-note`)
 * rather than inventing a shape.
 */
import { TIMEOUT_HEADER } from './http-input.js';
import type { JsonSchema, SchemaConversion } from './json-schema.js';
import type { ResolvedGatewayOptions } from './options.js';
import type { Route, RouteTable } from './routes.js';

/** The OpenAPI version written. */
export const OPENAPI_VERSION = '3.1.0';

type Json = Record<string, unknown>;

const ERROR_REF = { $ref: '#/components/responses/Error' };

/** Build the document (plain JSON). */
export function buildOpenApi(table: RouteTable, o: ResolvedGatewayOptions): Json {
  const schemas: Record<string, JsonSchema> = {
    Error: {
      type: 'object',
      description: 'Every error response: a stable code, a message, and optional details.',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', description: 'PLEXUS_ERR_… or the service’s own code', examples: ['PLEXUS_ERR_VALIDATION'] },
        message: { type: 'string' },
        details: { description: 'Structured details; for PLEXUS_ERR_VALIDATION, `{ where, issues: [{ message, path }] }`' },
      },
    },
  };
  const paths: Record<string, Json> = {};
  for (const route of table.routes.values()) {
    const id = `${route.contract.name}.${route.method}`;
    const inputRef = addSchema(schemas, `${id}.input`, route.input);
    const outputRef = addSchema(schemas, `${id}.output`, route.output);
    const item: Json = { post: operation(route, 'post', inputRef, outputRef) };
    if (route.def.safe === true) item['get'] = operation(route, 'get', inputRef, outputRef);
    paths[route.path] = item;
  }
  return {
    openapi: OPENAPI_VERSION,
    info: o.info,
    tags: o.services.map((s) => ({ name: s.name, description: `${s.description ?? s.name} (version ${s.version})` })),
    paths,
    components: {
      schemas,
      responses: {
        Error: { description: 'An error: see the code', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
      },
      parameters: {
        Timeout: {
          name: TIMEOUT_HEADER,
          in: 'header',
          required: false,
          description: `Deadline of the call in milliseconds (capped at ${o.maxTimeoutMs}); past it the answer is 504.`,
          schema: { type: 'integer', minimum: 1 },
        },
      },
    },
  };
}

function addSchema(schemas: Record<string, JsonSchema>, name: string, conv: SchemaConversion): Json {
  schemas[name] = conv.note === undefined ? conv.schema : { ...conv.schema, 'x-plexus-schema-note': conv.note };
  return { $ref: `#/components/schemas/${name}` };
}

function operation(route: Route, verb: 'get' | 'post', inputRef: Json, outputRef: Json): Json {
  const id = `${route.contract.name}.${route.method}`;
  // operationIds are unique per document: an alias path names itself in its ids.
  const base = route.alias ? `${id}:${route.path.slice(1).replaceAll('/', '.')}` : id;
  const op: Json = {
    operationId: verb === 'post' ? base : `${base}.get`,
    tags: [route.contract.name],
    summary: route.def.description ?? id,
    parameters: [{ $ref: '#/components/parameters/Timeout' }, ...(verb === 'get' ? queryParameters(route.input.schema) : [])],
    responses: {
      '200':
        route.def.stream === 'server'
          ? {
              description: 'The method’s outputs as NDJSON, one per line; if the stream fails midway its last line is `{"error": Error}`',
              content: { 'application/x-ndjson': { schema: outputRef } },
            }
          : { description: 'The method’s output', content: { 'application/json': { schema: outputRef } } },
      '400': ERROR_REF,
      ...(verb === 'post' ? { '413': ERROR_REF, '415': ERROR_REF } : {}),
      '503': ERROR_REF,
      '504': ERROR_REF,
      default: ERROR_REF,
    },
  };
  if (route.def.idempotent === true) op['x-plexus-idempotent'] = true;
  if (route.def.stream === 'server') op['x-plexus-stream'] = 'server';
  if (verb === 'post') op['requestBody'] = { required: false, content: { 'application/json': { schema: inputRef } } };
  return op;
}

/** Query parameters from an object schema's properties (none for other shapes). */
function queryParameters(schema: JsonSchema): Json[] {
  const properties = schema['properties'];
  if (typeof properties !== 'object' || properties === null) return [];
  const required = new Set(Array.isArray(schema['required']) ? (schema['required'] as string[]) : []);
  return Object.entries(properties as Record<string, JsonSchema>).map(([name, prop]) => ({
    name,
    in: 'query',
    required: required.has(name),
    schema: prop,
    ...(prop['type'] === 'array' ? { style: 'form', explode: true } : {}),
  }));
}
