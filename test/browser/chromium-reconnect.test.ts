/**
 * The browser build in headless Chromium through a broker restart: the page's client
 * sees the WebSocket drop, reconnects to the new broker on the same address, resubscribes,
 * and keeps receiving — S13's "frequent connection failures", in a real browser.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startBroker, type Broker } from '../../src/index.js';
import { Cleanup, connectClient, tempDir } from '../helpers/plexus.js';
import { launchChromium } from './chromium.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** What the page keeps on globalThis for the test to read. */
interface PageState {
  got: string[];
  statuses: string[];
  status: string;
}

test('Chromium: the page reconnects after the broker restarts and resubscribes', { timeout: 90_000 }, async (t) => {
  const cleanup = new Cleanup(t, 15_000);
  const dir = await tempDir(cleanup, 'plexus-reconnect-');
  const { buildBrowser } = (await import(join(root, 'scripts/build-browser.mjs'))) as {
    buildBrowser: (o: { outfile: string }) => Promise<{ outfile: string }>;
  };
  const bundle = await readFile((await buildBrowser({ outfile: join(dir, 'plexus.js') })).outfile);

  let broker: Broker = await startBroker({ listen: ['ws://127.0.0.1:0/'] });
  cleanup.defer(() => broker.close({ drainMs: 0 }));
  const url = broker.urls[0]!;

  const http = createServer((req, res) => {
    if (req.url === '/plexus.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    else if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>reconnect</title>');
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  cleanup.defer(() => new Promise<void>((r) => (http.closeAllConnections(), http.close(() => r()))));
  const pageUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}/`;

  const context = await launchChromium(cleanup);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(pageUrl, { timeout: 15_000 });
  await page.evaluate(async (brokerUrl: string) => {
    const g = globalThis as unknown as { state: PageState };
    const { connect } = (await import('/plexus.js' as string)) as typeof import('../../src/browser.js');
    g.state = { got: [], statuses: [], status: 'connecting' };
    const bus = await connect(brokerUrl, { reconnectDelayMs: 20, maxReconnectDelayMs: 200, timeoutMs: 3000 });
    g.state.status = bus.status;
    bus.on('status', (s) => {
      g.state.statuses.push(s);
      g.state.status = s;
    });
    bus.subscribe('tick', { callback: (m) => void g.state.got.push(m.string()) });
    await bus.flush();
  }, url);
  const state = (): Promise<PageState> => page.evaluate(() => (globalThis as unknown as { state: PageState }).state);

  const node = await connectClient(cleanup, url, { reconnectDelayMs: 20, maxReconnectDelayMs: 200 });
  node.publish('tick', 'before');
  await page.waitForFunction(() => (globalThis as unknown as { state: PageState }).state.got.length === 1, undefined, { timeout: 10_000 });

  // The broker goes away; a new one takes the same address.
  await broker.close({ drainMs: 0 });
  await page.waitForFunction(() => (globalThis as unknown as { state: PageState }).state.status === 'reconnecting', undefined, { timeout: 10_000 });
  broker = await startBroker({ listen: [url] });
  await page.waitForFunction(() => (globalThis as unknown as { state: PageState }).state.status === 'open', undefined, { timeout: 15_000 });
  // Both clients are back (the page resubscribed on reconnect): publish until the page has it.
  for (let i = 0; i < 100; i++) {
    if (node.status === 'open') node.publish('tick', 'after');
    if ((await state()).got.includes('after')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const final = await state();
  assert.deepEqual(errors, []);
  assert.equal(final.got[0], 'before');
  assert.ok(final.got.includes('after'), `page got ${JSON.stringify(final.got)}`);
  assert.deepEqual(final.statuses.slice(0, 2), ['reconnecting', 'open'], `statuses ${JSON.stringify(final.statuses)}`);
});
