import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startBroker } from '../../src/broker/index.js';
import { connect } from '../../src/client/index.js';
import { shmAvailability } from '../../src/local/index.js';
import { dial, listen, shmSocketPath, type ByteChannel } from '../../src/transports/index.js';
import { withTimeout } from '../helpers/timeout.js';
import { checkBackpressure, checkDestroy, checkRawOrder, checkRoundTrip, framedEnds, type FramedEnds } from './channel-pair.js';

const skip = shmAvailability().available ? false : 'the shared-memory addon is not built';

function freshName(): string {
  return `t${process.pid}-${randomBytes(4).toString('hex')}`;
}

async function shmChannels(t: TestContext): Promise<[ByteChannel, ByteChannel]> {
  const address = `shm://${freshName()}`;
  let onAccept!: (ch: ByteChannel) => void;
  const accepted = new Promise<ByteChannel>((resolve) => (onAccept = resolve));
  const listener = await withTimeout(listen(address, {}, (ch) => onAccept(ch)), 5000, 'listen');
  t.after(() => withTimeout(listener.close(), 3000, 'listener.close'));
  const client = await withTimeout(dial(address, { timeoutMs: 3000 }), 5000, 'dial');
  const server = await withTimeout(accepted, 5000, 'accept');
  t.after(() => {
    client.destroy();
    server.destroy();
  });
  return [client, server];
}

async function shmPair(t: TestContext): Promise<FramedEnds> {
  const address = `shm://${freshName()}`;
  let onAccept!: (ch: ByteChannel) => void;
  const accepted = new Promise<ByteChannel>((resolve) => (onAccept = resolve));
  const listener = await withTimeout(listen(address, {}, (ch) => onAccept(ch)), 5000, 'listen');
  t.after(() => withTimeout(listener.close(), 3000, 'listener.close'));
  const client = await withTimeout(dial(address, { timeoutMs: 3000 }), 5000, 'dial');
  const server = await withTimeout(accepted, 5000, 'accept');
  return framedEnds(t, client, server);
}

describe('shm:// transport', { timeout: 25_000, skip }, () => {
  it('carries frames both ways intact and in order; close is seen once on each side', async (t) => {
    await checkRoundTrip(await shmPair(t), 'shm');
  });

  it('a paused receiver pushes back on the writer; resume drains', async (t) => {
    await checkBackpressure(await shmPair(t));
  });

  it('destroy() closes both ends once', async (t) => {
    await checkDestroy(await shmPair(t));
  });

  it('writes past a full ring are queued in order and followed by drain', async (t) => {
    const [client, server] = await shmChannels(t);
    await checkRawOrder(client, server);
  });

  it('dial with nothing listening fails; a second listener on the same name is refused; close removes the socket', async (t) => {
    const name = freshName();
    await assert.rejects(dial(`shm://${name}`, { timeoutMs: 1000 }), { code: 'PLEXUS_ERR_CONNECT_FAILED' });
    const l = await listen(`shm://${name}`, {}, (ch) => ch.destroy());
    t.after(() => l.close());
    await assert.rejects(listen(`shm://${name}`, {}, (ch) => ch.destroy()), { code: 'PLEXUS_ERR_CONFIG' });
    await l.close();
    assert.equal(existsSync(shmSocketPath(name)), false);
  });

  it('without the addon, dial and listen reject with PLEXUS_ERR_SHM_UNAVAILABLE', async (t) => {
    const saved = process.env.PLEXUS_SHM_ADDON;
    process.env.PLEXUS_SHM_ADDON = fileURLToPath(new URL('./no-such-addon.node', import.meta.url));
    t.after(() => {
      if (saved === undefined) delete process.env.PLEXUS_SHM_ADDON;
      else process.env.PLEXUS_SHM_ADDON = saved;
    });
    await assert.rejects(dial('shm://nope'), { code: 'PLEXUS_ERR_SHM_UNAVAILABLE', message: /addon/ });
    await assert.rejects(listen('shm://nope', {}, () => undefined), { code: 'PLEXUS_ERR_SHM_UNAVAILABLE' });
  });

  it('a broker on shm:// and a client in a child process: request/reply and pub/sub; kill -9 of the child closes its session', async (t) => {
    const address = `shm://${freshName()}`;
    const broker = await startBroker({ listen: [address] });
    t.after(() => withTimeout(broker.close({ drainMs: 100 }), 5000, 'broker.close'));
    const main = await connect(address, { name: 'main' });
    t.after(() => withTimeout(main.close(), 5000, 'main.close'));
    main.serve('e2e.main', (m) => `main:${m.string()}`);
    await main.flush();

    const child = fork(fileURLToPath(new URL('../fixtures/transport-client.js', import.meta.url)), [address], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    t.after(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await withTimeout(exited, 5000, 'child exit');
    });
    const messages: { type: string; text?: string }[] = [];
    const waiters: (() => void)[] = [];
    child.on('message', (m: { type: string }) => {
      messages.push(m);
      waiters.splice(0).forEach((w) => w());
    });
    const next = async (type: string): Promise<{ type: string; text?: string }> => {
      for (;;) {
        const i = messages.findIndex((m) => m.type === type);
        if (i >= 0) return messages.splice(i, 1)[0]!;
        await withTimeout(new Promise<void>((r) => waiters.push(r)), 10_000, `child message ${type}`);
      }
    };
    await next('ready');
    assert.equal(broker.status().connections, 2);

    const reply = await withTimeout(main.request('e2e.echo', 'hi', { timeout: 5000 }), 6000, 'request to the child');
    assert.equal(reply.string(), 'echo:hi');
    const big = 'x'.repeat(1000 * 1024);
    const bigReply = await withTimeout(main.request('e2e.echo', big, { timeout: 5000 }), 6000, '1000 KiB request');
    assert.equal(bigReply.string(), `echo:${big}`);

    const up = main.subscribe('e2e.up');
    await main.flush();
    for (let i = 0; i < 1000; i++) main.publish('e2e.down', `m${i}`);
    const got: string[] = [];
    await withTimeout(
      (async () => {
        for await (const m of up) {
          got.push(m.string());
          if (got.length === 1000) break;
        }
      })(),
      10_000,
      'pub/sub round trip through the child',
    );
    assert.deepEqual(got, Array.from({ length: 1000 }, (_, i) => `m${i}`));

    main.publish('e2e.ask', 'q');
    assert.equal((await next('answer')).text, 'main:q');

    child.kill('SIGKILL');
    await withTimeout(exited, 5000, 'child exit');
    const deadline = Date.now() + 5000;
    while (broker.status().connections !== 1) {
      if (Date.now() > deadline) assert.fail('the broker did not notice the child dying');
      await new Promise((r) => setTimeout(r, 10));
    }
  });
});
