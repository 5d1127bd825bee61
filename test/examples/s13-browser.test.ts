/**
 * S13 in a real browser: headless Chromium loads examples/s13-browser, whose page uses the
 * browser bundle over the broker's ws:// listener. What the page reports is checked
 * against what the Node side saw.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startS13Demo } from '../../examples/s13-browser/server.js';
import { launchChromium } from '../browser/chromium.js';
import { Cleanup, tempDir } from '../helpers/plexus.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

interface PageResult {
  ok: boolean;
  lines: string[];
  hash?: string;
  error?: string;
}

test('S13: a page in headless Chromium subscribes, publishes, calls a Node service and gets coded errors', { timeout: 90_000 }, async (t) => {
  const cleanup = new Cleanup(t, 15_000);
  // Build the bundle the page loads, fresh, with the same script `npm run build` runs.
  const dir = await tempDir(cleanup, 'plexus-s13-');
  const { buildBrowser } = (await import(join(root, 'scripts/build-browser.mjs'))) as {
    buildBrowser: (o: { outfile: string }) => Promise<{ outfile: string }>;
  };
  const { outfile } = await buildBrowser({ outfile: join(dir, 'plexus.js') });
  const demo = await startS13Demo({ bundlePath: outfile });
  cleanup.defer(() => demo.close());

  const context = await launchChromium(cleanup);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  await page.goto(demo.pageUrl, { timeout: 15_000 });
  await page.waitForFunction(() => (globalThis as { plexusResult?: unknown }).plexusResult !== undefined, undefined, { timeout: 30_000 });
  const result = (await page.evaluate(() => (globalThis as { plexusResult?: unknown }).plexusResult)) as PageResult;
  const why = `page log:\n  ${result.lines.join('\n  ')}\n${problems.join('\n')}`;

  assert.equal(result.ok, true, why);
  assert.deepEqual(problems, [], why);
  assert.equal(await page.textContent('#status'), 'done');
  const [connected, news, bytes, greet, error, closed] = result.lines;
  assert.match(connected ?? '', /^connected to ws:\/\/127\.0\.0\.1:\d+\//, why);
  assert.equal(news, 'news: news.n1=item 1 news.n2=item 2 news.n3=item 3', why);
  assert.equal(greet, `greet: hello browser, from Node ${process.version}`, why);
  assert.equal(error, 'error: NO_RESPONDERS', why);
  assert.equal(closed, 'closed: closed', why);

  // The Node side saw the page's messages: the hello, and the binary payload intact.
  const expected = new Uint8Array(256 * 1024);
  for (let i = 0; i < expected.length; i++) expected[i] = (i * 31 + 7) & 0xff;
  const sha = createHash('sha256').update(expected).digest('hex');
  assert.equal(result.hash, sha, 'the page hashed the same bytes (WebCrypto)');
  assert.deepEqual(demo.activity.byteHashes, [sha], 'the binary payload arrived byte for byte');
  assert.match(bytes ?? '', new RegExp(`node saw ${sha.slice(0, 16)}`), why);
  assert.deepEqual(demo.activity.hellos, ['{"agent":"chromium"}']);
  assert.equal(demo.activity.greetedFrom.length, 1);
  assert.notEqual(demo.activity.greetedFrom[0], '', 'the broker stamped the page connection');
});
