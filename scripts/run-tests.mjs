#!/usr/bin/env node
// Runs every compiled test file under dist/test with node's test runner.
// Why a script: Node 20's --test does not expand globs, and we want a stable file order
// plus a per-file timeout so no test can hang CI.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = 'dist/test';
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js')) files.push(p);
  }
})(root);
const filter = process.argv[2];
const selected = filter ? files.filter((f) => f.includes(filter)) : files;
if (selected.length === 0) {
  console.error(`no test files found under ${root}${filter ? ` matching ${filter}` : ''}`);
  process.exit(1);
}
// The crash proof (dist/test/proof) is long by design (≥ 200k operations, ≥ 50 kills):
// it runs after everything else, alone, with its own time limit.
const proof = selected.filter((f) => f.includes(`${join('test', 'proof')}/`) || f.includes('/proof/'));
const regular = selected.filter((f) => !proof.includes(f));
let status = 0;
if (regular.length > 0) {
  const r = spawnSync(process.execPath, ['--test', '--test-timeout=120000', '--test-concurrency=2', ...regular], { stdio: 'inherit' });
  status = r.status ?? 1;
}
if (proof.length > 0) {
  const r = spawnSync(process.execPath, ['--test', '--test-timeout=660000', '--test-concurrency=1', ...proof], { stdio: 'inherit' });
  status ||= r.status ?? 1;
}
process.exit(status);
