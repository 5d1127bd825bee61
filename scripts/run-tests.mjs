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
const args = ['--test', '--test-timeout=120000', '--test-concurrency=2', ...selected];
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(r.status ?? 1);
