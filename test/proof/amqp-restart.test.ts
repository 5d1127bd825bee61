/**
 * Fault proof for amqp://: RabbitMQ's application is stopped and started again
 * (`rabbitmqctl stop_app` / `start_app`) while a producer sends to a quorum queue with
 * publisher confirms. The producer's bus reconnects by itself; a send that failed while
 * the server was down is sent again. Afterwards every send that resolved (was confirmed)
 * is consumed: no acknowledged message is lost. Runs alone (test/proof), stops only the
 * RabbitMQ application (not the node) and always starts it again.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import amqplib from 'amqplib';
import { promisify } from 'node:util';
import { connectBus, queue, type Bus } from '../../src/index.js';
import { Cleanup } from '../helpers/plexus.js';
import { sleep, waitFor, within } from '../helpers/wait.js';
import { probe } from '../conformance/targets.js';
import { AMQP_HOST, AMQP_PORT, AMQP_URL } from '../conformance/amqp-target.js';

const run = promisify(execFile);
const N = 300;

async function rabbitmqctl(cmd: string): Promise<void> {
  await run('rabbitmqctl', [cmd], { timeout: 60_000 });
}

async function portAnswers(): Promise<boolean> {
  return probe(AMQP_HOST, AMQP_PORT, 1000).then(
    () => true,
    () => false,
  );
}

test('RabbitMQ restarted mid-traffic: the producer reconnects and no confirmed send is lost', { timeout: 180_000 }, async (t) => {
  const cleanup = new Cleanup(t, 60_000);
  // Whatever happens, the shared server is left running.
  cleanup.defer(async () => {
    if (!(await portAnswers())) await rabbitmqctl('start_app');
  });
  const name = `restart${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  cleanup.defer(async () => {
    const conn = await amqplib.connect(AMQP_URL);
    await (await conn.createChannel()).deleteQueue(`plexus.queue.${name}`).finally(() => conn.close());
  });
  const producer: Bus = await connectBus(AMQP_URL, { timeoutMs: 3000, reconnectDelayMs: 200, maxReconnectDelayMs: 1000 });
  cleanup.defer(() => producer.close());
  const q = queue(producer, name);
  const confirmed: string[] = [];
  let failures = 0;
  let restarted = false;
  const sending = (async () => {
    for (let i = 0; i < N; i++) {
      const body = `m${i}`;
      for (;;) {
        try {
          await q.send(body);
          confirmed.push(body);
          break;
        } catch {
          failures++;
          await sleep(200); // down or reconnecting: send the same message again
        }
      }
      if (!restarted) await sleep(5);
    }
  })();
  await waitFor(() => confirmed.length >= 50, 30_000, 'traffic before the restart');
  await rabbitmqctl('stop_app');
  await sleep(1000);
  await rabbitmqctl('start_app');
  restarted = true;
  await waitFor(portAnswers, 60_000, 'RabbitMQ to answer again');
  await within(sending, 120_000, 'every send to be confirmed');
  assert.ok(failures > 0, 'the restart was felt by the producer');

  const consumer = await connectBus(AMQP_URL, { timeoutMs: 3000 });
  cleanup.defer(() => consumer.close());
  const c = queue(consumer, name).consume({ prefetch: 64 });
  const got = new Set<string>();
  const missing = (): string[] => confirmed.filter((b) => !got.has(b));
  while (missing().length > 0) {
    const r = await within(c.next(), 15_000, `the confirmed messages (missing: ${missing().slice(0, 5).join(', ')})`);
    assert.equal(r.done, false);
    got.add(r.value.string());
    await r.value.ack();
  }
  await c.close();
  assert.deepEqual(missing(), [], 'every confirmed send was kept across the restart');
});
