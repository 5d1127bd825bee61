#!/usr/bin/env node
// Bundle the browser client (src/browser.ts) into dist/browser/plexus.js (ESM) and refuse
// to emit a bundle that needs Node: a `node:` import (or any Node built-in module) fails
// to resolve on the browser platform, and a free reference to a Node global (Buffer,
// process, ...) is rewritten by `define` into a marker the check below looks for.
// `define` touches only free identifiers, so property names, strings and locals that
// happen to be called `process` pass, and `typeof process` guards are caught too.
//
//   node scripts/build-browser.mjs [--outfile <path>] [--entry <path>]
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtinModules } from 'node:module';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Node globals a browser does not have. */
export const NODE_GLOBALS = ['Buffer', 'process', 'global', 'require', 'module', '__dirname', '__filename', 'setImmediate', 'clearImmediate'];
const MARK = '__PLEXUS_NODE_GLOBAL_';

/**
 * Build the bundle. Throws (with every offending module or global named) when the
 * bundle would need Node. Returns the output path and its size.
 */
export async function buildBrowser({ entry = resolve(root, 'src/browser.ts'), outfile = resolve(root, 'dist/browser/plexus.js') } = {}) {
  const esbuild = await import('esbuild');
  const define = Object.fromEntries(NODE_GLOBALS.map((g) => [g, `${MARK}${g}`]));
  const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
  const nodeImports = [];
  /** @type {import('esbuild').Plugin} */
  const noNode = {
    name: 'no-node-builtins',
    setup(build) {
      // Name every built-in import with its importer, instead of esbuild's generic hint.
      build.onResolve({ filter: /.*/ }, (args) => {
        if (args.path.startsWith('node:') || builtins.has(args.path)) {
          nodeImports.push(`${args.path} (imported by ${args.importer.replace(`${root}/`, '')})`);
          return { path: args.path, external: true };
        }
        return undefined;
      });
    },
  };
  /**
   * The binary codecs' libraries (msgpackr, cbor-x, protobufjs) need Node globals. The
   * bundle carries the json codec only: those imports resolve to a stand-in whose
   * encode/decode throw, so naming msgpack/cbor in a page fails loudly, not at load.
   */
  /** @type {import('esbuild').Plugin} */
  const absentCodecs = {
    name: 'absent-binary-codecs',
    setup(build) {
      build.onResolve({ filter: /^(msgpackr|cbor-x|protobufjs)$/ }, (args) => ({ path: args.path, namespace: 'absent-codec' }));
      build.onLoad({ filter: /.*/, namespace: 'absent-codec' }, (args) => ({ contents: absentCodecModule(args.path), loader: 'js' }));
    },
  };
  await mkdir(dirname(outfile), { recursive: true });
  const result = await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    sourcemap: true,
    define,
    plugins: [absentCodecs, noNode],
    metafile: true,
    write: false,
    logLevel: 'silent',
  });
  const js = result.outputFiles.find((f) => f.path === outfile);
  if (!js) throw new Error(`esbuild produced no ${outfile}`);
  const globals = [...new Set([...js.text.matchAll(new RegExp(`${MARK}(\\w+)`, 'g'))].map((m) => m[1]))];
  const problems = [
    ...nodeImports.map((m) => `Node built-in module ${m}`),
    ...globals.map((g) => `Node global \`${g}\` (a free reference to it is in the bundle)`),
  ];
  if (problems.length > 0) {
    throw new Error(`the browser bundle must not need Node:\n  ${problems.join('\n  ')}`);
  }
  const { writeFile } = await import('node:fs/promises');
  for (const f of result.outputFiles) await writeFile(f.path, f.contents);
  return { outfile, bytes: js.contents.length, inputs: Object.keys(result.metafile.inputs) };
}

/** Source of the stand-in for a binary codec library left out of the browser bundle. */
function absentCodecModule(name) {
  return `const absent = () => { throw new Error(${JSON.stringify(`${name} is not in the Plexus browser bundle: use the json codec`)}); };
class Absent { pack() { absent(); } unpack() { absent(); } encode() { absent(); } decode() { absent(); } }
export { Absent as Packr, Absent as Unpackr, Absent as Encoder, Absent as Decoder };
export default { load: absent, loadSync: absent, Root: { fromJSON: absent }, Type: Absent };
`;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name) => {
    const i = args.indexOf(name);
    return i >= 0 ? resolve(args[i + 1]) : undefined;
  };
  try {
    const { outfile, bytes } = await buildBrowser({
      ...(opt('--entry') ? { entry: opt('--entry') } : {}),
      ...(opt('--outfile') ? { outfile: opt('--outfile') } : {}),
    });
    console.log(`browser bundle: ${outfile.replace(`${root}/`, '')} (${bytes} bytes)`);
  } catch (err) {
    console.error(`build-browser: ${err.message}`);
    process.exit(1);
  }
}
