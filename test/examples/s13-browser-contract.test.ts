/**
 * S13, typed: a page in headless Chromium imports the browser bundle, defines the same
 * contract as a Node service (with a hand-written Standard Schema, no zod in the page),
 * and calls it through `serviceClient`: a good call, a call its own validation refuses
 * before sending, and a call whose handler throws a ServiceError with code and details.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { startS13Demo } from '../../examples/s13-browser/server.js';
import { connect, defineService, serveService, ServiceError } from '../../src/index.js';
import { launchChromium } from '../browser/chromium.js';
import { Cleanup, tempDir } from '../helpers/plexus.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

const users = defineService('browserusers', {
  version: '1.2.0',
  methods: {
    lookup: { input: z.object({ id: z.number().int().positive() }), output: z.object({ id: z.number(), name: z.string() }) },
  },
});

/** What the page reports: per call, a result or the error's class, code and details. */
interface PageOutcome {
  ok?: unknown;
  isServiceError?: boolean;
  code?: string;
  message?: string;
  details?: unknown;
  sentBeforeValidation?: boolean;
}

test('S13: a page makes typed calls; a validation error and a ServiceError come back with code and details', { timeout: 90_000 }, async (t) => {
  const cleanup = new Cleanup(t, 15_000);
  const dir = await tempDir(cleanup, 'plexus-s13c-');
  const { buildBrowser } = (await import(join(root, 'scripts/build-browser.mjs'))) as {
    buildBrowser: (o: { outfile: string }) => Promise<{ outfile: string }>;
  };
  const { outfile } = await buildBrowser({ outfile: join(dir, 'plexus.js') });
  const demo = await startS13Demo({ bundlePath: outfile });
  cleanup.defer(() => demo.close());

  // The Node service the page calls.
  const bus = await connect(demo.brokerUrl);
  cleanup.defer(() => bus.close());
  let handled = 0;
  const server = serveService(bus, users, {
    lookup: ({ id }) => {
      handled++;
      if (id === 404) throw new ServiceError('USER_NOT_FOUND', `no user ${id}`, { id, hint: 'try 7' });
      return { id, name: `user ${id}` };
    },
  }, { register: false });
  cleanup.defer(() => server.close());
  await server.ready();

  const context = await launchChromium(cleanup);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  await page.goto(demo.pageUrl, { timeout: 15_000 });

  const outcomes = (await page.evaluate(async ({ brokerUrl, bundleUrl }: { brokerUrl: string; bundleUrl: string }) => {
    type Plexus = typeof import('../../src/browser.js');
    const plexus = (await import(bundleUrl)) as Plexus;
    // A minimal Standard Schema: the page has no zod.
    const idSchema = {
      '~standard': {
        version: 1 as const,
        vendor: 'page',
        validate: (v: unknown) =>
          typeof v === 'object' && v !== null && Number.isInteger((v as { id?: unknown }).id) && (v as { id: number }).id > 0
            ? { value: v }
            : { issues: [{ message: 'id must be a positive integer', path: ['id'] }] },
      },
    };
    const anything = { '~standard': { version: 1 as const, vendor: 'page', validate: (v: unknown) => ({ value: v }) } };
    const contract = plexus.defineService('browserusers', { version: '1.2.0', methods: { lookup: { input: idSchema, output: anything } } });
    const pageBus = await plexus.connect(brokerUrl);
    const client = plexus.serviceClient(pageBus, contract, { timeoutMs: 10_000 });
    const outcome = async (input: unknown): Promise<Record<string, unknown>> => {
      try {
        return { ok: await client.lookup(input as { id: number }) };
      } catch (err) {
        const e = err as { code?: string; message?: string; details?: unknown };
        return { isServiceError: err instanceof plexus.ServiceError, code: e.code, message: e.message, details: e.details };
      }
    };
    const results = [await outcome({ id: 7 }), await outcome({ id: -1 }), await outcome({ id: 404 })];
    await pageBus.close();
    return results;
  }, { brokerUrl: demo.brokerUrl, bundleUrl: new URL('/plexus.js', demo.pageUrl).href })) as PageOutcome[];

  assert.deepEqual(problems, []);
  const [good, invalid, missing] = outcomes;
  assert.deepEqual(good, { ok: { id: 7, name: 'user 7' } });

  assert.equal(invalid?.isServiceError, true, JSON.stringify(invalid));
  assert.equal(invalid?.code, 'PLEXUS_ERR_VALIDATION');
  const details = invalid?.details as { where?: string; issues?: { message: string; path?: unknown[] }[] };
  assert.equal(details.where, 'input');
  assert.deepEqual(details.issues?.map((i) => [i.message, i.path]), [['id must be a positive integer', ['id']]]);

  assert.equal(missing?.isServiceError, true, JSON.stringify(missing));
  assert.equal(missing?.code, 'USER_NOT_FOUND');
  assert.equal(missing?.message, 'no user 404');
  assert.deepEqual(missing?.details, { id: 404, hint: 'try 7' });

  // The invalid call never left the page: the service saw the other two only.
  assert.equal(handled, 2);
});
