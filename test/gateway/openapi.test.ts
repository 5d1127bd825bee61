import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as v from 'valibot';
import { z } from 'zod';
import { defineService, type StandardSchemaV1 } from '../../src/contract/index.js';
import { serviceStatus, toJsonSchema } from '../../src/gateway/index.js';
import { Cleanup } from '../helpers/plexus.js';
import { call, startCatalog } from './fixtures.js';

type Json = Record<string, unknown>;

/** Every `$ref` in the document points at something that exists. */
function checkRefs(doc: Json): string[] {
  const missing: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (typeof node !== 'object' || node === null) return;
    for (const [k, val] of Object.entries(node)) {
      if (k === '$ref' && typeof val === 'string') {
        let target: unknown = doc;
        for (const part of val.replace(/^#\//, '').split('/')) target = (target as Json | undefined)?.[part];
        if (target === undefined) missing.push(val);
      } else walk(val);
    }
  };
  walk(doc);
  return missing;
}

test('/openapi.json: OpenAPI 3.1 with paths, verbs, parameters and schemas from zod and valibot', async (t) => {
  const cleanup = new Cleanup(t);
  const { gateway } = await startCatalog(cleanup, { routes: [{ path: '/items', service: 'catalog', method: 'search' }], info: { title: 'Shop' } });
  const { status, body: doc } = await call(`${gateway.url}/openapi.json`);
  assert.equal(status, 200);
  assert.equal(doc['openapi'], '3.1.0');
  assert.equal((doc['info'] as Json)['title'], 'Shop');
  assert.equal((doc['info'] as Json)['version'], 'catalog@1.2.0, stock@0.1.0, ghost@1.0.0, ticker@1.0.0');
  assert.deepEqual(checkRefs(doc), []);

  const paths = doc['paths'] as Record<string, Json>;
  assert.deepEqual(Object.keys(paths).sort(), ['/api/catalog/buy', '/api/catalog/fail', '/api/catalog/search', '/api/catalog/slow', '/api/ghost/boo', '/api/stock/level', '/api/ticker/count', '/items']);
  assert.deepEqual(Object.keys(paths['/api/catalog/search']!).sort(), ['get', 'post']);
  assert.deepEqual(Object.keys(paths['/api/catalog/buy']!), ['post'], 'not safe: no GET');
  assert.ok(paths['/items']!['get'], 'the extra route is documented too');

  const ids = Object.values(paths).flatMap((p) => Object.values(p).map((op) => (op as Json)['operationId']));
  assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');

  const search = paths['/api/catalog/search']!['get'] as Json;
  assert.equal(search['summary'], 'Find items by name');
  const params = search['parameters'] as Json[];
  const q = params.find((p) => p['name'] === 'q')!;
  assert.deepEqual(q, { name: 'q', in: 'query', required: true, schema: { type: 'string', minLength: 1 } });
  const tags = params.find((p) => p['name'] === 'tags')!;
  assert.equal(tags['required'], false);
  assert.equal(tags['explode'], true);
  assert.deepEqual((tags['schema'] as Json)['items'], { type: 'string' });

  const schemas = (doc['components'] as Json)['schemas'] as Record<string, Json>;
  const buy = schemas['catalog.buy.input']!;
  assert.equal(buy['type'], 'object');
  assert.deepEqual(buy['required'], ['id', 'qty']);
  assert.equal((buy['properties'] as Record<string, Json>)['qty']!['minimum'], 1);
  assert.equal(buy['$schema'], undefined, 'the document sets the dialect once');
  assert.deepEqual(schemas['stock.level.input'], {
    type: 'object',
    properties: { sku: { type: 'string', minLength: 3 }, warehouse: { enum: ['north', 'south'] } },
    required: ['sku'],
  });
  assert.deepEqual(schemas['stock.level.output'], {
    type: 'object',
    properties: { sku: { type: 'string' }, level: { type: 'integer', minimum: 0 } },
    required: ['sku', 'level'],
  });
  const count = paths['/api/ticker/count']!['get'] as Json;
  assert.equal(count['x-plexus-stream'], 'server');
  assert.deepEqual(Object.keys(((count['responses'] as Json)['200'] as Json)['content'] as Json), ['application/x-ndjson']);
  assert.equal(paths['/api/ghost/upload'], undefined, 'client-streaming is not exposed');
  const post = paths['/api/catalog/buy']!['post'] as Json;
  assert.deepEqual((post['requestBody'] as Json)['content'], { 'application/json': { schema: { $ref: '#/components/schemas/catalog.buy.input' } } });

  const head = await fetch(`${gateway.url}/openapi.json`, { method: 'HEAD', signal: AbortSignal.timeout(5000) });
  assert.equal(head.status, 200);
  const wrong = await call(`${gateway.url}/openapi.json`, { method: 'POST', json: {} });
  assert.equal(wrong.status, 405);
});

test('the schemas option documents methods whose library has no JSON Schema export', async (t) => {
  const cleanup = new Cleanup(t);
  const given = { type: 'object', properties: { sku: { type: 'string', description: 'stock keeping unit' } }, required: ['sku'] };
  const { gateway } = await startCatalog(cleanup, { schemas: { 'stock.level': { input: given } } });
  const { body: doc } = await call(`${gateway.url}/openapi.json`);
  const schemas = (doc['components'] as Json)['schemas'] as Record<string, Json>;
  assert.deepEqual(schemas['stock.level.input'], given);
  assert.equal((schemas['stock.level.output']!['properties'] as Json)['level'] !== undefined, true, 'output still converted');
  const { startGateway } = await import('../../src/gateway/index.js');
  await assert.rejects(
    startGateway({ bus: { request: () => Promise.reject(new Error('unused')) } as never, services: [defineService('y', { version: '1.0.0', methods: { m: { input: z.object({}), output: z.object({}) } } })], schemas: { 'y.nope': {} } }),
    /no unary or server-streaming method y\.nope/,
  );
});

test('schemas without a JSON Schema form become {} with a note, never a guess', () => {
  const custom: StandardSchemaV1<string> = {
    '~standard': { version: 1, vendor: 'handmade', validate: (value) => (typeof value === 'string' ? { value } : { issues: [{ message: 'not a string' }] }) },
  };
  const conv = toJsonSchema(custom, 'input');
  assert.deepEqual(conv.schema, {});
  assert.match(conv.note ?? '', /handmade/);

  const date = toJsonSchema(z.object({ at: z.date() }), 'input');
  assert.deepEqual(date.schema, {});
  assert.match(date.note ?? '', /zod could not express/);

  const partly = toJsonSchema(v.object({ at: v.date(), n: v.number() }), 'input');
  assert.deepEqual(partly.schema, { type: 'object', properties: { at: {}, n: { type: 'number' } }, required: ['at', 'n'] });
  assert.match(partly.note ?? '', /date/);

  const shapes = toJsonSchema(
    v.strictObject({
      list: v.pipe(v.array(v.string()), v.minLength(1)),
      maybe: v.nullable(v.literal(3)),
      either: v.union([v.string(), v.number()]),
      rec: v.record(v.string(), v.boolean()),
      mail: v.pipe(v.string(), v.email(), v.description('where to write')),
      dflt: v.optional(v.number(), 5),
    }),
    'output',
  );
  assert.equal(shapes.note, undefined);
  assert.deepEqual(shapes.schema, {
    type: 'object',
    additionalProperties: false,
    required: ['list', 'maybe', 'either', 'rec', 'mail'],
    properties: {
      list: { type: 'array', items: { type: 'string' }, minItems: 1 },
      maybe: { anyOf: [{ const: 3 }, { type: 'null' }] },
      either: { anyOf: [{ type: 'string' }, { type: 'number' }] },
      rec: { type: 'object', additionalProperties: { type: 'boolean' } },
      mail: { type: 'string', format: 'email', description: 'where to write' },
      dflt: { type: 'number', default: 5 },
    },
  });
});

test('service error codes map to statuses by the documented suffix table', () => {
  const table: [string, number][] = [
    ['USER_NOT_FOUND', 404],
    ['NOT_FOUND', 404],
    ['TOKEN_UNAUTHENTICATED', 401],
    ['ADMIN_FORBIDDEN', 403],
    ['EMAIL_ALREADY_EXISTS', 409],
    ['VERSION_CONFLICT', 409],
    ['EMAIL_INVALID', 400],
    ['INVALID_EMAIL', 400],
    ['RIDE_UNAVAILABLE', 503],
    ['TOO_MANY_REQUESTS', 429],
    ['OUT_OF_STOCK', 422],
    ['NOTFOUND', 422],
  ];
  for (const [code, status] of table) assert.equal(serviceStatus(code), status, code);
});

test('contracts with bad gateway options are refused at start', async (t) => {
  const cleanup = new Cleanup(t);
  const { gateway } = await startCatalog(cleanup);
  const bus = { request: () => Promise.reject(new Error('unused')) } as never;
  const svc = defineService('x', { version: '1.0.0', methods: { m: { input: z.object({}), output: z.object({}) } } });
  const { startGateway } = await import('../../src/gateway/index.js');
  const refusals: [string, Record<string, unknown>][] = [
    ['no services', { bus, services: [] }],
    ['twice', { bus, services: [svc, svc] }],
    ['bad route', { bus, services: [svc], routes: [{ path: '/y', service: 'x', method: 'nope' }] }],
    ['bad listen', { bus, services: [svc], listen: 'tcp://127.0.0.1:0' }],
    ['bad limit', { bus, services: [svc], maxBodyBytes: -1 }],
    ['taken', { bus, services: [svc], routes: [{ path: '/openapi.json', service: 'x', method: 'm' }] }],
  ];
  for (const [what, options] of refusals) {
    await assert.rejects(startGateway(options as never), (err: Error & { code?: string }) => typeof err.code === 'string' && err.code.startsWith('PLEXUS_ERR_'), what);
  }
  assert.ok(gateway.url.startsWith('http://127.0.0.1:'));
});
