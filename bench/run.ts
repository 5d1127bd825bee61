/**
 * Plexus benchmark runner: every peer side by side in one run, each in its own process.
 *
 *   node dist/bench/run.js                 # everything (~10 min on 2 cores)
 *   node dist/bench/run.js pubsub --quick  # one section, small counts
 *
 * Sections: pubsub, reqrep, stream. Options:
 *   --quick            small counts, one run per peer unless --repeat is given
 *   --repeat=N         runs per peer; the median is reported (default 3)
 *   --only=a,b         only these system ids (plexus-unix, plexus-tcp, nats, redis,
 *                      raw-relay, raw-direct, grpc, http, ipc, raw)
 *   --sizes=16,256     pub/sub payload sizes in bytes
 *   --profile[=DIR]    write a V8 CPU profile of every peer process into DIR
 *   --verbose          echo the peers' output
 *
 * Every process it starts is stopped (and if need be SIGKILLed by PID) before it exits;
 * it connects only to 127.0.0.1 and to Unix sockets in a fresh temp directory.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { probeNats, probeRedis } from './lib/backends.js';
import type { RunContext } from './lib/context.js';
import { killAllNow, setProfileDir, setVerbose, stopAll } from './lib/proc.js';
import { targetsTable } from './lib/targets.js';
import { INFLIGHT, RR_PAYLOAD, reqRepTable, runReqRep, type RrResults } from './sections/reqrep.js';
import { pubSubTable, runPubSub, type PubSubResults } from './sections/pubsub.js';
import { runStream, streamTable, type StreamResults } from './sections/stream.js';

const SECTIONS = ['pubsub', 'reqrep', 'stream'] as const;
type Section = (typeof SECTIONS)[number];

interface Args {
  sections: Section[];
  quick: boolean;
  repeat: number | undefined;
  only: Set<string> | undefined;
  sizes: number[] | undefined;
  profile: string | undefined;
  verbose: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { sections: [], quick: false, repeat: undefined, only: undefined, sizes: undefined, profile: undefined, verbose: false };
  for (const arg of argv) {
    const [key, value] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if ((SECTIONS as readonly string[]).includes(arg)) a.sections.push(arg as Section);
    else if (key === '--quick') a.quick = true;
    else if (key === '--verbose') a.verbose = true;
    else if (key === '--repeat' && value && Number(value) >= 1) a.repeat = Math.floor(Number(value));
    else if (key === '--only' && value) a.only = new Set(value.split(','));
    else if (key === '--sizes' && value) a.sizes = value.split(',').map(Number);
    else if (key === '--profile') a.profile = resolve(value ?? 'bench-profiles');
    else throw new Error(`unknown argument ${JSON.stringify(arg)} (sections: ${SECTIONS.join(', ')}; see bench/run.ts)`);
  }
  if (a.sizes?.some((s) => !Number.isInteger(s) || s < 1 || s > 1024 * 1024)) throw new Error('--sizes takes integers in 1..1048576');
  if (a.sections.length === 0) a.sections = [...SECTIONS];
  return a;
}

/** The commit measured, marked dirty when src/ has uncommitted changes. */
function revision(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dirty ? `${head} + uncommitted changes in src/` : head;
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const tmp = await mkdtemp(join(os.tmpdir(), 'plexus-bench-'));
  if (args.profile) await mkdir(args.profile, { recursive: true });
  setProfileDir(args.profile);
  setVerbose(args.verbose);
  const [nats, redis] = await Promise.all([probeNats(), probeRedis()]);
  const ctx: RunContext = {
    quick: args.quick,
    repeat: args.repeat ?? (args.quick ? 1 : 3),
    tmp,
    nats,
    redis,
    only: args.only,
    sizes: args.sizes,
    log: (line) => process.stderr.write(`  ${line}\n`),
  };
  const out = (s = ''): void => void process.stdout.write(`${s}\n`);
  const cpus = os.cpus();
  out('# Plexus benchmarks');
  out();
  out(`- date: ${new Date().toISOString()}`);
  out(`- machine: ${os.availableParallelism()} CPUs (${cpus[0]?.model.trim() ?? 'unknown'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${os.type()} ${os.release()}`);
  out(`- node ${process.version}; plexus at ${revision()}`);
  out(`- nats: ${nats.ok ? nats.detail : 'unavailable (not running on 127.0.0.1:4222)'}`);
  out(`- redis: ${redis.ok ? redis.detail : 'unavailable (not running on 127.0.0.1:6379)'}`);
  out(`- command: node dist/bench/run.js ${process.argv.slice(2).join(' ')}`.trimEnd());
  out(`- each cell: median of ${ctx.repeat} run(s), every run with fresh client processes; runs interleaved across systems;`);
  out('  "runs" = half the min–max range of the runs relative to the median');
  out(`- load average at start: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);

  let pubsub: PubSubResults | undefined;
  let rr: RrResults | undefined;
  let stream: StreamResults | undefined;
  const started = Date.now();
  try {
    for (const section of args.sections) {
      if (section === 'pubsub') {
        pubsub = await runPubSub(ctx);
        out('\n## Pub/sub one-way throughput (publisher process → broker process → subscriber process)\n');
        out(pubSubTable(ctx, pubsub));
      } else if (section === 'reqrep') {
        rr = await runReqRep(ctx);
        out(`\n## Request/reply (${RR_PAYLOAD} B payload; latency sequential, throughput with ${INFLIGHT} in flight)\n`);
        out(reqRepTable(ctx, rr));
      } else {
        stream = await runStream(ctx);
        out('\n## Bulk stream throughput\n');
        out(streamTable(ctx, stream));
      }
    }
    out('\n## Targets\n');
    out(targetsTable(pubsub, rr, stream));
    out(`\n(total ${((Date.now() - started) / 1000).toFixed(0)} s; load average at end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')})`);
  } finally {
    await stopAll();
    await rm(tmp, { recursive: true, force: true });
  }
}

process.on('exit', killAllNow);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    killAllNow();
    process.exit(130);
  });
}
main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
