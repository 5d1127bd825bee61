import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CAPABILITIES } from '../../src/index.js';

// Compiled to dist/test/conformance/: the repository root is three levels up.
const root = new URL('../../../', import.meta.url);

test('docs/backends.md states every unsupported feature with the same reason as the table the suite reads', async () => {
  const doc = (await readFile(new URL('docs/backends.md', root), 'utf8')).replaceAll('`', '');
  let unsupported = 0;
  for (const [backend, features] of Object.entries(CAPABILITIES)) {
    for (const [feature, capability] of Object.entries(features)) {
      if (capability === true) continue;
      unsupported++;
      assert.ok(doc.includes(`not supported: ${capability}`), `docs/backends.md lacks the reason ${backend} does not give ${feature}: ${capability}`);
    }
  }
  assert.ok(unsupported > 0, 'the table declares something unsupported (else this test proves nothing)');
});

test('the capability tables in README.md and docs/backends.md are the ones the suite reads', () => {
  const r = spawnSync(process.execPath, ['scripts/capability-table.mjs', '--check'], { cwd: fileURLToPath(root), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});
