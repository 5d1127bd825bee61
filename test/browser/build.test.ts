/**
 * The browser bundle (scripts/build-browser.mjs): it builds, holds none of the Node-only
 * modules, and the build refuses entries that need Node (built-in imports or globals).
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Cleanup, tempDir } from '../helpers/plexus.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

interface BuildResult {
  outfile: string;
  bytes: number;
  inputs: string[];
}
type BuildBrowser = (o?: { entry?: string; outfile?: string }) => Promise<BuildResult>;

async function loadBuilder(): Promise<BuildBrowser> {
  const mod = (await import(join(root, 'scripts/build-browser.mjs'))) as { buildBrowser: BuildBrowser };
  return mod.buildBrowser;
}

test('the browser bundle builds from src/browser.ts without any Node-only module', async (t) => {
  const cleanup = new Cleanup(t);
  const dir = await tempDir(cleanup, 'plexus-browser-');
  const build = await loadBuilder();
  const out = await build({ outfile: join(dir, 'plexus.js') });
  const js = await readFile(out.outfile, 'utf8');
  assert.ok(out.bytes > 10_000, 'a real bundle');
  assert.match(js, /export\s*\{[^}]*\bconnect\b/, 'ESM exporting connect');
  assert.doesNotMatch(js, /from\s*["']node:|require\(/, 'no Node imports or require');
  const inputs = out.inputs.join('\n');
  assert.match(inputs, /src\/transports\/browser-ws\.ts/);
  assert.match(inputs, /src\/client\/connection\.ts/);
  for (const nodeOnly of ['src/transports/ws.ts', 'src/transports/net.ts', 'src/transports/index.ts', 'src/client/stream-node.ts', 'src/client/connect.ts', 'node_modules/ws/']) {
    assert.ok(!inputs.includes(nodeOnly), `${nodeOnly} must not be in the browser bundle`);
  }
});

test('the browser build fails, naming the culprit, when an entry needs a Node module or global', async (t) => {
  const cleanup = new Cleanup(t);
  const dir = await tempDir(cleanup, 'plexus-browser-');
  const build = await loadBuilder();
  const cases: [string, RegExp][] = [
    ["import { readFileSync } from 'node:fs';\nexport const f = () => readFileSync('x');\n", /Node built-in module node:fs/],
    ["import { EventEmitter } from 'events';\nexport const e = new EventEmitter();\n", /Node built-in module events/],
    ["export const b = () => Buffer.from('x');\n", /Node global `Buffer`/],
    ["export const isNode = () => typeof process !== 'undefined';\n", /Node global `process`/],
  ];
  for (const [i, [source, why]] of cases.entries()) {
    const entry = join(dir, `bad${i}.ts`);
    await writeFile(entry, source);
    await assert.rejects(build({ entry, outfile: join(dir, `bad${i}.js`) }), why, source);
  }
  // Names that only look like Node globals are fine: a property, a string, a local.
  const fine = join(dir, 'fine.ts');
  await writeFile(fine, "export const f = (o: { process: number }) => { const Buffer = 1; return o.process + Buffer + 'process'.length; };\n");
  const ok = await build({ entry: fine, outfile: join(dir, 'fine.js') });
  assert.ok(ok.bytes > 0);
});
