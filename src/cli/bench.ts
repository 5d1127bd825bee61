/**
 * `plexus bench` — publishers and subscribers in this process against a broker (the
 * one at --url / PLEXUS_URL / the per-user socket, or an embedded one if none answers).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { ErrorCode, PlexusError, connect, startBroker, type Broker, type Connection } from '../index.js';
import { flag, int, positionals, seconds, size, str, type OptionSpecs, type ParsedArgs } from './args.js';
import { brokerUrls, connectOptions } from './client.js';
import type { Command } from './command.js';

const NAME = 'bench';

const options: OptionSpecs = {
  subject: { type: 'string', arg: 'S', help: 'subject to publish on (default bench.<random>)' },
  msgs: { type: 'string', arg: 'N', help: 'messages in total, split across publishers (default 100000)' },
  size: { type: 'string', arg: 'BYTES', help: 'payload size (default 128)' },
  pub: { type: 'string', arg: 'P', help: 'publisher connections (default 1)' },
  sub: { type: 'string', arg: 'S', help: 'subscriber connections, each receives every message (default 1)' },
  timeout: { type: 'string', arg: 'SECONDS', help: 'give up if the run takes longer (default 120)' },
  embedded: { type: 'boolean', help: 'always use an embedded broker, even if one is running' },
};

interface Side {
  readonly role: string;
  msgs: number;
  start: number;
  end: number;
}

/** Where to run: the broker the flags name, or an embedded one if none answers. */
async function pickBroker(args: ParsedArgs): Promise<{ url: string; embedded?: { broker: Broker; dir: string | undefined } }> {
  const explicit = str(args, 'url') !== undefined;
  if (!flag(args, 'embedded')) {
    const urls = brokerUrls(args);
    try {
      const probe = await connect(urls, { ...connectOptions(args, NAME), timeoutMs: 2000, reconnect: false });
      const url = probe.url;
      await probe.close();
      return { url };
    } catch (err) {
      if (explicit || !(err instanceof PlexusError) || err.code !== ErrorCode.CONNECT_FAILED) throw err;
      process.stderr.write(`no broker answers at ${urls.join(', ')}; starting an embedded one\n`);
    }
  }
  const dir = process.platform === 'win32' ? undefined : await mkdtemp(join(tmpdir(), 'plexus-bench-'));
  const broker = await startBroker({ listen: [dir ? `unix://${join(dir, 'bench.sock')}` : 'tcp://127.0.0.1:0'] });
  return { url: broker.urls[0]!, embedded: { broker, dir } };
}

function progressBar(done: number, total: number): string {
  const width = 30;
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${((100 * done) / Math.max(1, total)).toFixed(0).padStart(3)}%  ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} msgs received`;
}

async function publishAll(bus: Connection, subject: string, payload: Uint8Array, count: number, side: Side): Promise<void> {
  side.start = performance.now();
  let sinceYield = 0;
  for (let i = 0; i < count; i++) {
    if (!bus.isWritable) await bus.writable();
    bus.publish(subject, payload);
    side.msgs++;
    sinceYield += payload.length + 64;
    // Same process as the subscribers: let them (and the socket) run now and then.
    if (sinceYield >= 256 * 1024) {
      sinceYield = 0;
      await yieldToLoop();
    }
  }
  await bus.flush(60_000);
  side.end = performance.now();
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}

function row(role: string, msgs: number, ms: number, bytesPerMsg: number): string[] {
  const s = Math.max(ms, 0.001) / 1000;
  return [role, msgs.toLocaleString('en-US'), s.toFixed(3), Math.round(msgs / s).toLocaleString('en-US'), ((msgs * bytesPerMsg) / s / 1e6).toFixed(2)];
}

async function run(args: ParsedArgs): Promise<number> {
  positionals(args, NAME, []);
  const subject = str(args, 'subject') ?? `bench.${randomBytes(3).toString('hex')}`;
  const total = int(args, NAME, 'msgs', 100_000, 1);
  const bytes = size(args, NAME, 'size', 128, 0)!;
  const pubs = int(args, NAME, 'pub', 1, 1, 1000);
  const subs = int(args, NAME, 'sub', 1, 0, 1000);
  const timeoutMs = (seconds(args, NAME, 'timeout') ?? 120) * 1000;
  const target = await pickBroker(args);
  const conns: Connection[] = [];
  const tty = process.stderr.isTTY === true;
  let ticker: ReturnType<typeof setInterval> | undefined;
  try {
    const opts = { ...connectOptions(args, NAME), reconnect: false };
    const subSides: Side[] = [];
    let received = 0;
    let allIn!: () => void;
    const everyoneDone = new Promise<void>((r) => (allIn = r));
    if (subs === 0) allIn();
    for (let i = 0; i < subs; i++) {
      const bus = await connect(target.url, { ...opts, name: `plexus bench sub ${i + 1}` });
      conns.push(bus);
      const side: Side = { role: `sub #${i + 1}`, msgs: 0, start: 0, end: 0 };
      subSides.push(side);
      bus.subscribe(subject, {
        callback: () => {
          if (side.msgs === 0) side.start = performance.now();
          side.msgs++;
          received++;
          if (side.msgs === total) side.end = performance.now();
          if (received === total * subs) allIn();
        },
      });
      await bus.flush();
    }
    const payload = new Uint8Array(bytes).fill(0x78);
    const pubSides: Side[] = [];
    const publishers: Connection[] = [];
    for (let i = 0; i < pubs; i++) {
      const bus = await connect(target.url, { ...opts, name: `plexus bench pub ${i + 1}` });
      conns.push(bus);
      publishers.push(bus);
      pubSides.push({ role: `pub #${i + 1}`, msgs: 0, start: 0, end: 0 });
    }
    if (bytes > (publishers[0]?.server?.maxPayload ?? Infinity)) {
      throw new PlexusError(ErrorCode.PAYLOAD_TOO_LARGE, `--size ${bytes} exceeds the broker's max payload of ${publishers[0]!.server!.maxPayload} bytes`);
    }
    process.stderr.write(`bench: ${total.toLocaleString('en-US')} msgs × ${bytes} B on ${subject}, ${pubs} publisher(s), ${subs} subscriber(s) via ${target.url}${target.embedded ? ' (embedded broker in this process)' : ''}\n`);
    if (tty) {
      ticker = setInterval(() => process.stderr.write(`\r${progressBar(received, total * subs)}`), 100);
      ticker.unref();
    }
    const started = performance.now();
    const per = Math.floor(total / pubs);
    const publishing = Promise.all(publishers.map((bus, i) => publishAll(bus, subject, payload, per + (i === 0 ? total - per * pubs : 0), pubSides[i]!)));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new PlexusError(ErrorCode.TIMEOUT, `bench did not finish within ${timeoutMs / 1000} s (${received} of ${total * subs} received)`)), timeoutMs);
    });
    try {
      await Promise.race([Promise.all([publishing, everyoneDone]), timedOut]);
    } finally {
      clearTimeout(timer);
    }
    const elapsed = performance.now() - started;
    if (ticker) {
      clearInterval(ticker);
      process.stderr.write(`\r${progressBar(received, total * subs)}\n`);
    }
    const rows = [['', 'msgs', 'seconds', 'msgs/s', 'MB/s']];
    for (const s of pubSides) rows.push(row(s.role, s.msgs, s.end - s.start, bytes));
    if (pubs > 1) rows.push(row('pub total', total, Math.max(...pubSides.map((s) => s.end)) - Math.min(...pubSides.map((s) => s.start)), bytes));
    for (const s of subSides) rows.push(row(s.role, s.msgs, s.end - s.start, bytes));
    if (subs > 1) rows.push(row('sub total', total * subs, Math.max(...subSides.map((s) => s.end)) - Math.min(...subSides.map((s) => s.start)), bytes));
    rows.push(row('overall', total * Math.max(subs, 1), elapsed, bytes));
    process.stdout.write(`${table(rows)}\n`);
    process.stdout.write('MB/s counts payload bytes (1 MB = 10^6 B); publishers, subscribers' + (target.embedded ? ' and the broker' : '') + ' share this process.\n');
    return 0;
  } finally {
    if (ticker) clearInterval(ticker);
    await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
    if (target.embedded) {
      await target.embedded.broker.close({ drainMs: 500 });
      if (target.embedded.dir) await rm(target.embedded.dir, { recursive: true, force: true });
    }
  }
}

export const benchCommand: Command = {
  name: NAME,
  summary: 'measure publish/subscribe throughput',
  usage: ['bench [--subject S] [--msgs N] [--size BYTES] [--pub P] [--sub S] [--embedded]'],
  description:
    'Runs P publishers and S subscribers as separate connections in this process. Uses the broker at --url (an error if it does not answer), else PLEXUS_URL or the per-user socket, else starts an embedded broker on a temporary socket. Shows a progress bar on stderr when it is a terminal, then a table: msgs/s and MB/s per publisher and subscriber.',
  examples: ['plexus bench', 'plexus bench --msgs 1000000 --size 16 --pub 2 --sub 2', 'plexus bench --url tcp://127.0.0.1:4850 --size 64k --msgs 20000'],
  options,
  client: true,
  run,
};
