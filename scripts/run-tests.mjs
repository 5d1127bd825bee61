#!/usr/bin/env node
// Runs every compiled test file under dist/test with node's test runner.
// Why a script: Node 20's --test does not expand globs, and we want a stable file order
// plus a per-file timeout so no test can hang CI.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

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
// Each run also writes TAP to a temp file, read back for the per-backend summary at the end.
const tapDir = mkdtempSync(join(tmpdir(), 'plexus-tap-'));
let runs = 0;
function run(args) {
  const tap = join(tapDir, `run-${runs++}.tap`);
  const reporters = ['--test-reporter=tap', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`];
  const r = spawnSync(process.execPath, ['--test', ...reporters, ...args], { stdio: 'inherit' });
  return r.status ?? 1;
}
let status = 0;
if (regular.length > 0) status = run(['--test-timeout=120000', '--test-concurrency=2', ...regular]);
if (proof.length > 0) {
  const proofStatus = run(['--test-timeout=660000', '--test-concurrency=1', ...proof]); // runs even after a failure above
  status ||= proofStatus;
}
printBackendSummary();
rmSync(tapDir, { recursive: true, force: true });
process.exit(status);

/**
 * Which backend tests ran: conformance tests are named `[<backend>] …`; a skip carries
 * `not supported by <backend>: <reason>`. Printed last so CI logs say it plainly.
 */
function printBackendSummary() {
  const tally = new Map();
  for (let i = 0; i < runs; i++) {
    let text = '';
    try {
      text = readFileSync(join(tapDir, `run-${i}.tap`), 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const m = /^\s*(ok|not ok) \d+ - \[([a-z]+)\] /.exec(line);
      if (!m) continue;
      const t = tally.get(m[2]) ?? { passed: 0, failed: 0, unsupported: 0 };
      if (/# SKIP not supported by /.test(line)) t.unsupported++;
      else if (m[1] === 'ok') t.passed++;
      else t.failed++;
      tally.set(m[2], t);
    }
  }
  if (tally.size === 0) return;
  console.log('\n# backend conformance: which backend tests ran');
  for (const [backend, t] of [...tally].sort()) {
    console.log(`#   ${backend.padEnd(9)} ${t.passed} passed, ${t.failed} failed, ${t.unsupported} reported "not supported by ${backend}"`);
  }
}
