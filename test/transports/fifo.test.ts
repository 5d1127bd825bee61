import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, constants as fsc, mkdirSync, openSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { FifoReader, FifoWriter, defaultTransports, type FifoMessage } from '../../src/transports/index.js';
import { Cleanup, tempDir } from '../helpers/plexus.js';
import { spawnNode } from '../helpers/child.js';
import { rejectionCode, within } from '../helpers/wait.js';
import { fifoTestMessage } from '../fixtures/fifo-message.js';
import { FifoRecordEncoder } from '../../src/transports/fifo-record.js';

const writerScript = new URL('../fixtures/fifo-writer.js', import.meta.url);

async function drain(reader: FifoReader, ms: number): Promise<FifoMessage[]> {
  const got: FifoMessage[] = [];
  await within(
    (async () => {
      for await (const m of reader) got.push(m);
    })(),
    ms,
    'reading to EOF',
  );
  return got;
}

test('three writer processes interleave large messages into one FIFO; the reader tells them apart and sees EOF after the last', async (t) => {
  const cleanup = new Cleanup(t);
  const dir = await tempDir(cleanup);
  const path = join(dir, 'feed');
  const joined: string[] = [];
  const reader = await FifoReader.open(`fifo://${path}`, { onWriter: (e, w) => e === 'joined' && joined.push(w.name) });
  cleanup.defer(() => reader.close());
  assert.ok(statSync(path).isFIFO(), 'the reader created the FIFO');
  assert.equal(statSync(path).mode & 0o777, 0o600);
  const count = 40;
  const size = 10_000; // > PIPE_BUF: each message is three records
  const names = ['alpha', 'beta', 'gamma'];
  // A writer of our own holds the FIFO open until every child is done: the reader's EOF
  // comes when the last writer closes, and a child may finish before another starts.
  const holder = await FifoWriter.open(path, { name: 'holder' });
  cleanup.defer(() => holder.destroy());
  const reading = drain(reader, 30_000);
  const children = await Promise.all(names.map((n) => spawnNode(cleanup, writerScript, [path, n, String(count), String(size)])));
  for (const c of children) await c.waitLine(/^done/, 20_000);
  await holder.close();
  const got = (await reading).filter((m) => m.writer.name !== 'holder');
  for (const [k, name] of names.entries()) {
    const mine = got.filter((m) => m.writer.name === name);
    assert.equal(mine.length, count, `${name}: all messages`);
    assert.ok(mine.every((m) => m.writer.pid === children[k]!.pid), `${name}: the writer's pid`);
    mine.forEach((m, i) => assert.ok(Buffer.from(m.data).equals(fifoTestMessage(name, i, size)), `${name} #${i} intact and in order`));
  }
  assert.deepEqual([...joined].sort(), ['holder', ...names].sort());
  assert.equal(reader.stats.incomplete, 0);
  assert.equal(reader.stats.sequenceGaps, 0);
  // The writers' records did interleave (otherwise this test would prove nothing about it).
  const order = got.map((m) => m.writer.name);
  assert.ok(order.some((n, i) => i > 0 && n !== order[i - 1]), 'messages of different writers alternate');
});

test('writers in one process are told apart by id; a reader with keepOpen does not end when they close', async (t) => {
  const cleanup = new Cleanup(t);
  const path = join(await tempDir(cleanup), 'feed');
  const reader = await FifoReader.open(path, { keepOpen: true, unlinkOnClose: true });
  cleanup.defer(() => reader.close());
  const a = await FifoWriter.open(path, { name: 'same' });
  const b = await FifoWriter.open(path, { name: 'same' });
  await a.write('from a');
  await b.write('from b');
  await a.close();
  await b.close();
  const m1 = await reader.next({ timeoutMs: 5000 });
  const m2 = await reader.next({ timeoutMs: 5000 });
  assert.notEqual(m1!.writer.id, m2!.writer.id);
  assert.deepEqual([Buffer.from(m1!.data).toString(), Buffer.from(m2!.data).toString()].sort(), ['from a', 'from b']);
  assert.equal(await rejectionCode(reader.next({ timeoutMs: 200 }), 2000), 'PLEXUS_ERR_TIMEOUT', 'still open after both writers left');
  reader.close();
  assert.equal(await reader.next(), null);
  assert.throws(() => statSync(path), /ENOENT/, 'unlinkOnClose removed the FIFO');
});

test('a path that exists but is not a FIFO: PLEXUS_ERR_NOT_A_FIFO for reader and writer, nothing written', async (t) => {
  const cleanup = new Cleanup(t);
  const dir = await tempDir(cleanup);
  const file = join(dir, 'plain');
  writeFileSync(file, 'keep me');
  assert.equal(await rejectionCode(FifoReader.open(file), 2000), 'PLEXUS_ERR_NOT_A_FIFO');
  assert.equal(await rejectionCode(FifoWriter.open(file, { timeoutMs: 200 }), 2000), 'PLEXUS_ERR_NOT_A_FIFO');
  assert.equal(statSync(file).size, 7);
  mkdirSync(join(dir, 'd'));
  const err = await FifoReader.open(join(dir, 'd')).catch((e: unknown) => e);
  assert.equal((err as { details?: { type?: string } }).details?.type, 'directory');
});

test('a writer with no reader gives up with PLEXUS_ERR_CONNECT_FAILED; a missing path too', async (t) => {
  const cleanup = new Cleanup(t);
  const path = join(await tempDir(cleanup), 'feed');
  assert.equal(await rejectionCode(FifoWriter.open(path, { timeoutMs: 100 }), 2000), 'PLEXUS_ERR_CONNECT_FAILED');
  const reader = await FifoReader.open(path);
  reader.close(); // the FIFO now exists, with nobody reading
  assert.equal(await rejectionCode(FifoWriter.open(path, { timeoutMs: 100 }), 2000), 'PLEXUS_ERR_CONNECT_FAILED');
  const ac = new AbortController();
  const pending = FifoWriter.open(path, { timeoutMs: 5000, signal: ac.signal });
  ac.abort();
  assert.equal(await rejectionCode(pending, 2000), 'PLEXUS_ERR_CANCELLED');
});

test('the reader going away fails the writer with PLEXUS_ERR_CONNECTION_LOST; oversized messages are refused', async (t) => {
  const cleanup = new Cleanup(t);
  const path = join(await tempDir(cleanup), 'feed');
  const reader = await FifoReader.open(path);
  const w = await FifoWriter.open(path, { maxMessageBytes: 1000 });
  cleanup.defer(() => w.destroy());
  assert.equal(await rejectionCode(w.write(new Uint8Array(1001)), 1000), 'PLEXUS_ERR_PAYLOAD_TOO_LARGE');
  await w.write('one');
  assert.equal(Buffer.from((await reader.next({ timeoutMs: 5000 }))!.data).toString(), 'one');
  reader.close();
  assert.equal(await rejectionCode(w.write('two'), 5000), 'PLEXUS_ERR_CONNECTION_LOST');
});

test('a writer facing a reader that does not read waits (bounded), then times out', async (t) => {
  const cleanup = new Cleanup(t);
  const path = join(await tempDir(cleanup), 'feed');
  const reader = await FifoReader.open(path, { highWaterMessages: 1 });
  cleanup.defer(() => reader.close());
  const w = await FifoWriter.open(path, { writeTimeoutMs: 300 });
  cleanup.defer(() => w.destroy());
  // Nobody calls next(): the reader pauses after one message, the pipe (64 KiB) fills.
  const writes: Promise<void>[] = [];
  for (let i = 0; i < 64; i++) writes.push(w.write(new Uint8Array(4000)));
  const codes = await Promise.all(writes.map((p) => p.then(() => 'ok', (e: { code?: string }) => e.code)));
  assert.ok(codes.includes('ok'), 'what fitted was written');
  assert.ok(codes.includes('PLEXUS_ERR_TIMEOUT'), 'the rest timed out');
});

test('fifo:// in the transport table refuses dial/listen with a pointer to the feed API', async () => {
  const f = defaultTransports['fifo:']!;
  const url = new URL('fifo:///tmp/x');
  await assert.rejects(f.dial(url, {}), (e: { code?: string; message: string }) => e.code === 'PLEXUS_ERR_CONFIG' && /openFifoWriter/.test(e.message));
  await assert.rejects(f.listen(url, {}, () => undefined), (e: { code?: string }) => e.code === 'PLEXUS_ERR_CONFIG');
});

test('a writer that dies mid-message: its half is dropped and counted at EOF; the other writer is unaffected', async (t) => {
  const cleanup = new Cleanup(t);
  const path = join(await tempDir(cleanup), 'feed');
  const reader = await FifoReader.open(path);
  cleanup.defer(() => reader.close());
  // The "dying" writer, by hand: HELLO and the first record of a 3-record message, then its
  // descriptor closes (as the kernel does for a killed process) without BYE.
  const fd = openSync(path, fsc.O_WRONLY | fsc.O_NONBLOCK);
  const enc = new FifoRecordEncoder(424242, 7);
  writeSync(fd, enc.hello('doomed'));
  writeSync(fd, enc.message(new Uint8Array(10_000))[0]!);
  const good = await FifoWriter.open(path, { name: 'good' });
  closeSync(fd);
  await good.write('after the crash');
  await good.close();
  const got = await drain(reader, 5000);
  assert.deepEqual(got.map((m) => [m.writer.name, Buffer.from(m.data).toString()]), [['good', 'after the crash']]);
  assert.equal(reader.stats.incomplete, 1);
  assert.equal(reader.stats.writersSeen, 2);
});

test('bytes from something that is not a Plexus fifo writer end the reader with PLEXUS_ERR_MALFORMED_FRAME', async (t) => {
  const cleanup = new Cleanup(t);
  const path = join(await tempDir(cleanup), 'feed');
  const reader = await FifoReader.open(path);
  cleanup.defer(() => reader.close());
  const fd = openSync(path, fsc.O_WRONLY | fsc.O_NONBLOCK);
  writeSync(fd, 'echo hello > feed, the way a shell would write it\n');
  closeSync(fd);
  await assert.rejects(reader.next({ timeoutMs: 5000 }), { code: 'PLEXUS_ERR_MALFORMED_FRAME' });
});
