/**
 * S10 — a named pipe (FIFO) that several processes write into at once, and a reader
 * that can tell them apart.
 *
 * The reader opens `fifo://<tmp>/feed` (creating the FIFO, mode 0600) and starts three
 * writer processes. Their messages interleave in the pipe — long ones too — yet each
 * arrives whole, with its writer's pid and name. The reader puts every message on a
 * Plexus bus (`fifo.<writer>`, pid in a header), where a subscriber counts them; the
 * iteration ends at EOF, when the last writer has closed.
 *
 * Usage: node dist/examples/s10-fifo/main.js
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, openFifoReader, openFifoWriter, startBroker } from '../../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'plexus-s10-'));
const path = join(dir, 'feed');
const names = ['billing', 'search', 'auth'];
const perWriter = 30;
const pids: number[] = [];
process.on('exit', () => {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // exited already
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

const broker = await startBroker({ listen: [`inproc://s10-${process.pid}`] });
const bus = await connect(broker.urls[0]!, { name: 's10-reader' });
const onBus = new Map<string, number>();
bus.subscribe('fifo.*', { callback: (m) => onBus.set(m.subject, (onBus.get(m.subject) ?? 0) + 1) });
await bus.flush();

const reader = await openFifoReader(`fifo://${path}`, {
  onWriter: (event, w) => console.log(`writer ${event}: ${w.name} (pid ${w.pid})`),
});
// The reader reaches EOF when the last writer closes. The writers start one by one, and
// a quick one could finish before the next opens; holding a writer of our own until all
// of them have exited makes "the last writer" really the last.
const holder = await openFifoWriter(`fifo://${path}`, { name: 'main' });

const writerJs = fileURLToPath(new URL('./writer.js', import.meta.url));
const writers = names.map((name) => {
  const child = spawn(process.execPath, [writerJs, path, name, String(perWriter)], { stdio: ['pipe', 'pipe', 'inherit'] });
  pids.push(child.pid!);
  console.log(`started writer ${name} pid=${child.pid}`);
  return { child, open: once(child.stdout!, 'data'), exit: once(child, 'exit') };
});
// Let them all open the FIFO, then start them at once, so their messages really mix.
await Promise.all(writers.map((w) => w.open));
for (const w of writers) w.child.stdin!.end('go\n');
void Promise.all(writers.map((w) => w.exit)).then(() => holder.close());

const seen = new Map<string, number[]>();
const order: string[] = [];
let broken = 0;
for await (const m of reader) {
  if (m.writer.name === 'main') continue;
  const text = Buffer.from(m.data).toString();
  const match = /^(\w+) line (\d+)/.exec(text);
  // A message is whole when it starts with its own writer's name and has the right length.
  const n = Number(match?.[2]);
  const expected = `${m.writer.name} line ${n}`.length + (n % 3 === 0 ? 10_000 : 0);
  if (match?.[1] !== m.writer.name || text.length !== expected) broken++;
  seen.set(m.writer.name, [...(seen.get(m.writer.name) ?? []), n]);
  order.push(m.writer.name);
  if (text.length > 4096 && n === 3) console.log(`${m.writer.name} (pid ${m.writer.pid}): line ${n}, ${text.length} bytes, whole`);
  bus.publish(`fifo.${m.writer.name}`, m.data, { headers: { 'fifo-pid': String(m.writer.pid) } });
}
console.log('EOF: every writer has closed');
await bus.flush();

const switches = order.filter((w, i) => i > 0 && w !== order[i - 1]).length;
let ok = broken === 0;
for (const name of names) {
  const lines = seen.get(name) ?? [];
  const inOrder = lines.every((n, i) => n === i + 1);
  console.log(`${name}: ${lines.length} messages, in order: ${inOrder}, on the bus: ${onBus.get(`fifo.${name}`) ?? 0}`);
  ok &&= lines.length === perWriter && inOrder && onBus.get(`fifo.${name}`) === perWriter;
}
console.log(`writers alternated ${switches} times in the pipe; broken messages: ${broken}`);
console.log(`reader stats: ${JSON.stringify(reader.stats)}`);
await bus.close();
await broker.close();
console.log(ok ? 'OK' : 'FAIL');
if (!ok) process.exitCode = 1;
