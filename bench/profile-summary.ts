/**
 * Summarise V8 .cpuprofile files (from `run.js --profile=DIR`): top functions by self
 * time, and self time by area (Plexus source, node internals, GC, idle).
 *
 *   node dist/bench/profile-summary.js DIR [--top=25] [--match=broker]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

function shortUrl(url: string): string {
  if (url === '') return '';
  const u = url.replace(/^file:\/\//, '');
  for (const marker of ['/node_modules/', '/dist/']) {
    const i = u.lastIndexOf(marker);
    if (i >= 0) return u.slice(i + marker.length);
  }
  return u;
}

function area(f: CallFrame): string {
  const u = shortUrl(f.url);
  if (f.functionName === '(idle)') return 'idle';
  if (f.functionName === '(garbage collector)') return 'gc';
  if (f.functionName === '(program)') return 'v8/native (program)';
  if (u.startsWith('src/')) return `plexus ${u.split('/').slice(0, 2).join('/')}`;
  if (u.startsWith('bench/')) return 'bench harness';
  if (u.startsWith('node:')) return 'node internals';
  if (u === '') return 'native/builtins';
  return u.split('/')[0]!.startsWith('@') ? u.split('/').slice(0, 2).join('/') : u.split('/')[0]!;
}

function summarise(file: string, top: number): string {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  // Self time from samples + timeDeltas (µs); fall back to hit counts.
  const selfUs = new Map<number, number>();
  if (p.samples && p.timeDeltas && p.samples.length === p.timeDeltas.length) {
    for (let i = 0; i < p.samples.length; i++) {
      const dt = p.timeDeltas[i + 1] ?? 0;
      selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + Math.max(0, dt));
    }
  } else {
    const interval = (p.endTime - p.startTime) / Math.max(1, p.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0));
    for (const n of p.nodes) selfUs.set(n.id, (n.hitCount ?? 0) * interval);
  }
  const fns = new Map<string, number>();
  const areas = new Map<string, number>();
  let total = 0;
  let busy = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    if (!n) continue;
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'}  ${shortUrl(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
    const a = area(f);
    areas.set(a, (areas.get(a) ?? 0) + us);
    total += us;
    if (a !== 'idle') busy += us;
  }
  const pct = (us: number): string => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
  const lines = [
    `## ${basename(file)}: ${(total / 1e6).toFixed(2)} s profiled, ${(busy / 1e6).toFixed(2)} s busy (percentages of busy time)`,
    '',
    'by area:',
    ...[...areas].filter(([a]) => a !== 'idle').sort((x, y) => y[1] - x[1]).slice(0, 12).map(([a, us]) => `  ${pct(us)}  ${a}`),
    '',
    `top ${top} functions by self time:`,
    ...[...fns]
      .filter(([k]) => !k.startsWith('(idle)'))
      .sort((x, y) => y[1] - x[1])
      .slice(0, top)
      .map(([k, us]) => `  ${pct(us)}  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`),
    '',
  ];
  return lines.join('\n');
}

function main(): void {
  const args = process.argv.slice(2);
  const dir = args.find((a) => !a.startsWith('--'));
  if (!dir) throw new Error('usage: profile-summary.js DIR|FILE [--top=N] [--match=TEXT]');
  const top = Number(args.find((a) => a.startsWith('--top='))?.slice(6) ?? 25);
  const match = args.find((a) => a.startsWith('--match='))?.slice(8);
  const files = statSync(dir).isDirectory()
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.cpuprofile') && (!match || f.includes(match)))
        .sort()
        .map((f) => join(dir, f))
    : [dir];
  for (const f of files) process.stdout.write(`${summarise(f, top)}\n`);
}

main();
