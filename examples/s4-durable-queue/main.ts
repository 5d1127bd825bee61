/**
 * S4 — a durable work queue: RabbitMQ's "Hello World" / "Work queues" tutorial on Plexus.
 *
 * This process runs a broker with the embedded durable service (data in a temp dir) and
 * the producer and consumers as separate processes:
 *  1. `send.js` stores "Hello World!" and a slow task while no consumer runs: they wait.
 *  2. worker 1 (`receive.js`) takes "Hello World!", acknowledges it, then takes the slow
 *     task — and is SIGKILLed in the middle of it, before acknowledging.
 *  3. worker 2 gets the slow task again (delivery 2) once its ack wait passed, and
 *     finishes it. At the end the queue is empty: every message was handled and acked.
 *
 * Usage: node dist/examples/s4-durable-queue/main.js
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, queue, startBroker } from '../../src/index.js';
import { Child } from '../shared/proc.js';
import { QUEUE_OPTIONS } from './settings.js';

const dir = await mkdtemp(join(tmpdir(), 'plexus-s4-'));
const server = await startBroker({ listen: ['tcp://127.0.0.1:0'], durable: { dir } });
const url = server.urls[0]!;
console.log(`broker with durable queues on ${url}`);
const children: Child[] = [];
const run = (name: string, script: string, args: string[]): Child => {
  const c = new Child(name, new URL(script, import.meta.url), args);
  children.push(c);
  console.log(`started ${name} pid=${c.pid}`);
  return c;
};
let ok: boolean;
try {
  for (const message of ['Hello World!', 'A slow task..........']) {
    const send = run('send', './send.js', [url, message]);
    if ((await send.exited) !== 0) throw new Error('send failed');
  }
  const bus = await connect(url);
  const hello = queue(bus, 'hello', QUEUE_OPTIONS);
  const before = await hello.stat();
  console.log(`queue hello holds ${before.stored} messages, ${before.ready} ready, before any consumer runs`);

  const w1 = run('worker 1', './receive.js', [url]);
  await w1.waitLine(/Done 'Hello World!'/, 15_000);
  await w1.waitLine(/Received 'A slow task/, 15_000);
  await w1.kill();
  console.log('killed worker 1 in the middle of the slow task (SIGKILL, no ack)');

  const w2 = run('worker 2', './receive.js', [url, '1']);
  const again = await w2.waitLine(/Received 'A slow task/, 15_000);
  if (!/delivery 2/.test(again)) throw new Error(`expected a redelivery, got: ${again}`);
  if ((await w2.exited) !== 0) throw new Error('worker 2 failed');

  const after = await hello.stat();
  console.log(`queue hello: ${after.stored} stored, ${after.unacked} unacked, ${after.deadLetters} dead-lettered`);
  await bus.close();
  ok = after.stored === 0 && after.unacked === 0 && before.stored === 2;
} finally {
  for (const c of children) await c.kill();
  await server.close();
  await rm(dir, { recursive: true, force: true });
}
console.log(ok ? 'OK' : 'FAILED');
process.exitCode = ok ? 0 : 1;
