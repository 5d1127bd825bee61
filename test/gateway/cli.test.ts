import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { serveService } from '../../src/contract/index.js';
import { runCli, startCli, waitForOutput } from '../cli/helpers.js';
import { Cleanup, startTestBroker } from '../helpers/plexus.js';
import { within } from '../helpers/wait.js';
import { call, catalog } from './fixtures.js';

/** A compiled module that exports the catalog, stock and ghost contracts. */
const CONTRACTS = fileURLToPath(new URL('./fixtures.js', import.meta.url));

test('plexus gateway serves the contracts a module exports until SIGTERM', async (t) => {
  const cleanup = new Cleanup(t);
  const b = await startTestBroker(cleanup);
  const svc = await b.connect();
  const server = serveService(svc, catalog, {
    search: async (input) => ({ items: [{ id: 3, name: input.q }], echo: input }),
    buy: async (input) => ({ order: `o-${input.id}`, headers: {} }),
    slow: async () => ({ done: true }),
    fail: async () => null,
  });
  cleanup.defer(() => server.close());

  const run = startCli(t, ['gateway', '--url', b.url, '--services', CONTRACTS, '--listen', 'http://127.0.0.1:0', '--route', '/items=catalog.search', '--max-body', '1k']);
  await waitForOutput(run, 'stdout', /gateway listening on http:\/\/127\.0\.0\.1:\d+ /);
  const url = /gateway listening on (http:\/\/127\.0\.0\.1:\d+) for (.*) \(OpenAPI/.exec(run.stdout())!;
  assert.equal(url[2], 'catalog@1.2.0, ghost@1.0.0, stock@0.1.0, ticker@1.0.0');

  const items = await call(`${url[1]}/items?q=lamp`);
  assert.equal(items.status, 200, JSON.stringify(items.body));
  assert.deepEqual(items.body['items'], [{ id: 3, name: 'lamp' }]);
  const big = await call(`${url[1]}/api/catalog/buy`, { json: { id: 1, qty: 1, pad: 'x'.repeat(2000) } });
  assert.equal(big.status, 413, '--max-body 1k applies');
  const doc = await call(`${url[1]}/openapi.json`);
  assert.ok((doc.body['paths'] as Record<string, unknown>)['/items']);

  run.child.kill('SIGTERM');
  const exit = await within(run.exited, 10_000, 'gateway exit');
  assert.equal(exit.code, 0, run.stderr());
});

test('plexus gateway refuses a module without contracts and a malformed --route', async (t) => {
  const noContracts = fileURLToPath(new URL('../helpers/wait.js', import.meta.url));
  const a = await runCli(t, ['gateway', '--url', 'tcp://127.0.0.1:1', '--services', noContracts]);
  assert.equal(a.code, 2);
  assert.match(a.stderr, /exports no service contract/);
  const b = await runCli(t, ['gateway', '--url', 'tcp://127.0.0.1:1', '--services', CONTRACTS, '--route', 'items=catalog']);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /PATH=SERVICE\.METHOD/);
  const c = await runCli(t, ['gateway', '--url', 'tcp://127.0.0.1:1']);
  assert.equal(c.code, 2);
  assert.match(c.stderr, /--services MODULE is required/);
});
