import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { IpcChannel } from '../../src/spawn/index.js';

/** An IPC endpoint whose sends complete only when the test says so. */
class FakeEndpoint extends EventEmitter {
  connected = true;
  sent: unknown[] = [];
  private callbacks: ((err: Error | null) => void)[] = [];
  send(message: unknown, callback?: (err: Error | null) => void): boolean {
    this.sent.push(message);
    if (callback) this.callbacks.push(callback);
    return true;
  }
  /** Complete the first `n` sends (all by default). */
  flush(n = Infinity, err: Error | null = null): void {
    for (const cb of this.callbacks.splice(0, n)) cb(err);
  }
}

function open(): { ep: FakeEndpoint; ch: IpcChannel; got: Uint8Array[]; events: string[] } {
  const ep = new FakeEndpoint();
  const ch = new IpcChannel(ep, 'test');
  const got: Uint8Array[] = [];
  const events: string[] = [];
  ch.attach({
    data: (c) => got.push(c),
    drain: () => events.push('drain'),
    close: (err) => events.push(err ? `close:${err.message}` : 'close'),
  });
  return { ep, ch, got, events };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('ipc channel: write() says "full" past 4 MiB not yet sent, drain fires below 1 MiB', () => {
  const { ep, ch, events } = open();
  const mib = new Uint8Array(1024 * 1024);
  for (let i = 0; i < 4; i++) assert.equal(ch.write(mib), true, `MiB ${i + 1} fits`);
  assert.equal(ch.write(mib), false, 'the fifth MiB is over the high-water mark');
  ep.flush(3);
  assert.deepEqual(events, [], 'still 2 MiB in flight');
  ep.flush(1);
  assert.deepEqual(events, ['drain']);
  assert.deepEqual(ep.sent.map((m) => Object.keys(m as object)), Array(5).fill(['plexus']));
});

test('ipc channel: data arrives in order; a paused channel holds it; other IPC messages are ignored', async () => {
  const { ep, ch, got } = open();
  await tick();
  ep.emit('message', { plexus: Uint8Array.of(1) });
  ep.emit('message', { app: 'not ours' });
  ch.pause();
  ep.emit('message', { plexus: Uint8Array.of(2) });
  ep.emit('message', { plexus: Uint8Array.of(3) });
  assert.deepEqual(got.map((c) => c[0]), [1]);
  ch.resume();
  assert.deepEqual(got.map((c) => c[0]), [1, 2, 3]);
});

test('ipc channel: the peer\'s end marker closes after the data before it, also when paused', async () => {
  const { ep, ch, got, events } = open();
  await tick();
  ch.pause();
  ep.emit('message', { plexus: Uint8Array.of(7) });
  ep.emit('message', { plexusEnd: true });
  assert.deepEqual(events, [], 'nothing delivered while paused');
  ch.resume();
  assert.deepEqual(got.map((c) => c[0]), [7]);
  assert.deepEqual(events, ['close']);
  ep.emit('message', { plexus: Uint8Array.of(8) });
  assert.equal(got.length, 1, 'nothing after the close');
});

test('ipc channel: end() sends the marker and closes once it is sent; a send error or disconnect closes', async () => {
  const a = open();
  a.ch.end();
  assert.deepEqual(a.ep.sent.at(-1), { plexusEnd: true });
  assert.deepEqual(a.events, []);
  a.ep.flush();
  assert.deepEqual(a.events, ['close']);

  const b = open();
  b.ch.write(Uint8Array.of(1));
  b.ep.flush(1, new Error('channel closed'));
  assert.deepEqual(b.events, ['close:channel closed']);

  const c = open();
  await tick();
  c.ep.connected = false;
  c.ep.emit('disconnect');
  assert.deepEqual(c.events, ['close']);
});

test('ipc channel: data and a close that came before attach() are delivered after it', async () => {
  const ep = new FakeEndpoint();
  const ch = new IpcChannel(ep, 'early');
  ep.emit('message', { plexus: Uint8Array.of(5) });
  ep.emit('message', { plexusEnd: true });
  const seen: string[] = [];
  ch.attach({ data: (c) => seen.push(`data:${c[0]}`), drain: () => undefined, close: () => seen.push('close') });
  assert.deepEqual(seen, [], 'not inside attach()');
  await tick();
  assert.deepEqual(seen, ['data:5', 'close']);
});
