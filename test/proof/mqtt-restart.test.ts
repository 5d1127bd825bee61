/**
 * A private Mosquitto on a free loopback port is killed and restarted mid-traffic: the
 * adapter reconnects, re-subscribes, and pub/sub and request/reply work again. What was
 * published while the broker was down is not promised (clean sessions; QoS 0 deliveries).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connectBus, type Bus } from '../../src/index.js';
import { Cleanup, take, tempDir } from '../helpers/plexus.js';
import { waitFor, within } from '../helpers/wait.js';
import { probe } from '../conformance/targets.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function startMosquitto(cleanup: Cleanup, conf: string, port: number): Promise<ChildProcess> {
  const child = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
  cleanup.defer(() => child.exitCode === null && child.kill('SIGKILL'));
  await waitFor(async () => probe('127.0.0.1', port, 500).then(() => true, () => false), 10_000, 'mosquitto to listen');
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await within(exited, 5000, 'mosquitto to exit');
}

test('mqtt: pub/sub and request/reply resume after the broker restarts', async (t) => {
  const cleanup = new Cleanup(t);
  const dir = await tempDir(cleanup, 'plexus-mqtt-');
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  await writeFile(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location ${dir}/\n`);
  let broker = await startMosquitto(cleanup, conf, port);
  const url = `mqtt://127.0.0.1:${port}`;
  const open = async (): Promise<Bus> => {
    const bus = await connectBus(url, { timeoutMs: 3000, reconnectDelayMs: 100 });
    cleanup.defer(() => bus.close());
    return bus;
  };
  const [pub, sub] = [await open(), await open()];
  const s = sub.subscribe('restart.events');
  sub.serve('restart.rpc', (m) => `re:${m.string()}`);
  await sub.flush();
  pub.publish('restart.events', 'before');
  assert.deepEqual((await take(s, 1, 5000)).map((m) => m.string()), ['before']);

  await stop(broker);
  await waitFor(() => pub.status === 'reconnecting' && sub.status === 'reconnecting', 10_000, 'both clients to notice');
  broker = await startMosquitto(cleanup, conf, port);
  await waitFor(() => pub.status === 'open' && sub.status === 'open', 15_000, 'both clients to reconnect');
  await sub.flush(5000); // the re-subscriptions are acknowledged

  pub.publish('restart.events', 'after');
  await pub.flush(5000);
  const got = await take(s, 1, 5000, 'a message after the restart');
  assert.equal(got[0]!.string(), 'after');
  assert.equal((await pub.request('restart.rpc', 'x', { timeout: 5000 })).string(), 're:x');
  await stop(broker);
});
