#!/usr/bin/env node
// Builds the shared-memory addon in native/ with node-gyp. Runs as the package's
// `install` script, so `npm ci` builds it; it never fails the install: when the build
// cannot run or fails it prints why, records the reason in native/build/build-error.txt
// (the loader in src/local/addon.ts reports it) and exits 0. Everything in Plexus except
// the shared-memory fast path works without the addon.
//
//   node scripts/build-native.mjs           build (skipped when already built and current)
//   node scripts/build-native.mjs --force   rebuild from scratch
//   PLEXUS_SKIP_NATIVE=1                    do not build (the loader then says "not built")
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');
const buildDir = join(nativeDir, 'build');
const output = join(buildDir, 'Release', 'plexus_shm.node');
const errorFile = join(buildDir, 'build-error.txt');
const force = process.argv.includes('--force');

function warn(reason, detail = '') {
  mkdirSync(buildDir, { recursive: true });
  writeFileSync(errorFile, `${reason}\n${detail}`.trimEnd() + '\n');
  console.warn(`plexus: the shared-memory addon was not built: ${reason}`);
  if (detail) console.warn(detail.split('\n').slice(-25).join('\n'));
  console.warn('plexus: everything else works; shm:// and SharedSegment will report PLEXUS_ERR_SHM_UNAVAILABLE.');
  process.exit(0);
}

function newestSource(dir) {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    newest = Math.max(newest, st.isDirectory() ? newestSource(p) : st.mtimeMs);
  }
  return newest;
}

if (process.env.PLEXUS_SKIP_NATIVE === '1') warn('PLEXUS_SKIP_NATIVE=1 is set');
if (process.platform !== 'linux') warn(`platform ${process.platform} is not supported yet (the addon uses Linux futexes)`);

if (!force && existsSync(output)) {
  const sources = Math.max(newestSource(join(nativeDir, 'src')), statSync(join(nativeDir, 'binding.gyp')).mtimeMs);
  if (statSync(output).mtimeMs >= sources) {
    console.log('plexus: shared-memory addon is up to date');
    process.exit(0);
  }
}

// node-gyp: a devDependency or global install if there is one, else the copy bundled with
// npm (next to the npm that runs this script, or next to this node binary).
function findNodeGyp() {
  const candidates = [];
  try {
    candidates.push(createRequire(join(root, 'package.json')).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed locally
  }
  if (process.env.npm_execpath) {
    candidates.push(join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  }
  const prefix = resolve(dirname(process.execPath), '..');
  candidates.push(join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push(join(dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  return candidates.find((c) => existsSync(c));
}

const nodeGyp = findNodeGyp();
if (!nodeGyp) warn('node-gyp was not found (install it, or use an npm that bundles it)');

// Build against the headers of the running node when they are installed beside it, so no
// header download is needed (npm_config_nodedir, when set, wins inside node-gyp).
const args = [nodeGyp, 'rebuild', `--directory=${nativeDir}`];
const prefix = resolve(dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) {
  args.push(`--nodedir=${prefix}`);
}
if (force) rmSync(buildDir, { recursive: true, force: true });
rmSync(errorFile, { force: true });

console.log('plexus: building the shared-memory addon (node-gyp)…');
const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 300_000 });
if (r.error) warn(`node-gyp could not run: ${r.error.message}`);
if (r.status !== 0 || !existsSync(output)) {
  warn(`node-gyp exited with status ${r.status ?? r.signal}`, `${r.stdout ?? ''}\n${r.stderr ?? ''}`);
}
console.log('plexus: shared-memory addon built');
