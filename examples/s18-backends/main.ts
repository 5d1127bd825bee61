/**
 * S18 — the S4 `hello` queue producer and consumer, unchanged, on whatever the URL names:
 * the embedded broker or RabbitMQ (`amqp://`). Only the URL changes, never the code.
 *
 *   node dist/examples/s18-backends/main.js                        # embedded broker (started here)
 *   PLEXUS_URL=amqp://127.0.0.1 node dist/examples/s18-backends/main.js
 *   node dist/examples/s18-backends/main.js amqp://guest:guest@127.0.0.1:5672
 *
 * It runs S4's `send.js` twice and S4's `receive.js` for two messages as child processes,
 * then checks the queue is empty: every message stored with a publisher confirm was
 * consumed and acknowledged.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectBus, queue, startBroker, type PlexusServer } from '../../src/index.js';
import { Child } from '../shared/proc.js';
import { QUEUE_OPTIONS } from '../s4-durable-queue/settings.js';

let url = process.argv[2] ?? process.env.PLEXUS_URL;
let server: PlexusServer | undefined;
let dir: string | undefined;
if (url === undefined) {
  dir = await mkdtemp(join(tmpdir(), 'plexus-s18-'));
  server = await startBroker({ listen: ['tcp://127.0.0.1:0'], durable: { dir } });
  url = server.urls[0]!;
}
const target = new URL(url).protocol.replace(':', '');
console.log(`target: ${target}`);
const children: Child[] = [];
const run = (name: string, script: string, args: string[]): Child => {
  const c = new Child(name, new URL(script, import.meta.url), args);
  children.push(c);
  console.log(`started ${name} pid=${c.pid}`);
  return c;
};
let ok: boolean;
try {
  const bus = await connectBus(url, { timeoutMs: 5000 });
  const hello = queue(bus, 'hello', QUEUE_OPTIONS);
  // A shared RabbitMQ may hold messages from an earlier, interrupted run: take them first.
  const leftovers = await hello.stat();
  if (leftovers.stored > 0) {
    const c = hello.consume({ prefetch: 16 });
    for (let i = 0; i < leftovers.stored; i++) await (await c.next()).value?.ack();
    await c.close();
  }
  for (const message of ['Hello World!', 'Second task.']) {
    const send = run('send', '../s4-durable-queue/send.js', [url, message]);
    if ((await send.exited) !== 0) throw new Error('send failed');
  }
  const before = await hello.stat();
  console.log(`queue hello holds ${before.stored} messages before the consumer runs`);
  const worker = run('worker', '../s4-durable-queue/receive.js', [url, '2']);
  if ((await worker.exited) !== 0) throw new Error('worker failed');
  const after = await hello.stat();
  console.log(`queue hello holds ${after.stored} messages after the consumer acknowledged them`);
  await bus.close();
  ok = before.stored === 2 && after.stored === 0;
} finally {
  for (const c of children) await c.kill();
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
}
console.log(ok ? 'OK' : 'FAILED');
process.exitCode = ok ? 0 : 1;
