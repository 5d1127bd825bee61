/**
 * S9 — a pipe: parent→child unidirectional byte stream with flow control, and EOF when
 * the writer closes.
 *
 * The parent runs a broker and spawns a child whose stdin/stdout are the transport
 * (`broker.accept(channelFromStreams(child.stdout, child.stdin))`; the child does
 * `connect('stdio:')`). The child reads slowly through a 64 KiB window; the parent
 * writes as fast as `await write()` lets it. Whenever the child reports how much it has
 * read, the parent checks how far ahead its completed writes are: never more than the
 * window. Then the parent ends the stream and the child sees EOF.
 *
 * Usage: node dist/examples/s9-pipe-backpressure/main.js [total bytes]   (default 1 MiB)
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { channelFromStreams, connect, startBroker, type Broker, type Connection } from '../../src/index.js';
import { FRAME_BYTES, PIPE, PROGRESS, READY, WINDOW, type Progress } from './protocol.js';

const TOTAL = Number(process.argv[2] ?? 1024 * 1024);
const WRITE_BYTES = 32 * 1024;
if (!Number.isSafeInteger(TOTAL) || TOTAL <= 0) {
  console.error('usage: main.js [total bytes]');
  process.exit(2);
}

/** `promise`, or a rejection naming `what` after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_r, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

const child = spawn(process.execPath, [fileURLToPath(new URL('./child.js', import.meta.url))], { stdio: ['pipe', 'pipe', 'pipe'] });
const childExit = once(child, 'exit').then(([code]) => code as number | null);
const killChild = (): void => {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
};
process.on('exit', killChild);
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));
console.log(`started child pid=${child.pid}`);
createInterface({ input: child.stderr }).on('line', (line) => console.log(`[child] ${line}`));

let broker: Broker | undefined;
let bus: Connection | undefined;
try {
  // The parent's own connection needs an address; inproc:// stays inside this process.
  broker = await startBroker({ listen: [`inproc://s9-${process.pid}`] });
  bus = await connect(broker.urls[0]!, { name: 's9-parent' });

  let childRead = 0;
  let completed = 0; // bytes of writes whose promise has resolved
  let maxAhead = 0;
  bus.subscribe(PROGRESS, {
    callback: (msg) => {
      childRead = msg.json<Progress>().read;
      maxAhead = Math.max(maxAhead, completed - childRead);
    },
  });
  const ready = bus.subscribe(READY, { max: 1 });
  await bus.flush();

  // The child talks to the broker over its own stdin/stdout.
  broker.accept(channelFromStreams(child.stdout, child.stdin, 'child'));
  await within(ready[Symbol.asyncIterator]().next(), 5000, 'the child getting ready');

  const stream = await bus.stream(PIPE, { chunkBytes: FRAME_BYTES, timeout: 5000 });
  const started = Date.now();
  let blockedMs = 0;
  let blockedWrites = 0;
  let nextReport = TOTAL / 4;
  for (let offset = 0; offset < TOTAL; offset += WRITE_BYTES) {
    const chunk = Buffer.alloc(Math.min(WRITE_BYTES, TOTAL - offset), offset / WRITE_BYTES);
    const t0 = Date.now();
    await within(stream.write(chunk), 10_000, 'a write');
    const waited = Date.now() - t0;
    if (waited > 0) {
      blockedMs += waited;
      blockedWrites++;
    }
    completed += chunk.length;
    if (completed >= nextReport) {
      console.log(`parent: written ${completed}, child has read ${childRead}, in flight ${completed - childRead} (window ${WINDOW})`);
      nextReport += TOTAL / 4;
    }
  }
  console.log(`parent: all ${TOTAL} bytes written in ${Date.now() - started} ms; ${blockedWrites} writes waited for credit, ${blockedMs} ms in total`);
  await within(stream.end(), 10_000, 'end()'); // resolves once the child has read every byte
  console.log(`parent: end() resolved: the child consumed all ${stream.bytesWritten} bytes`);
  console.log(`parent: max bytes in flight ${maxAhead} <= window ${WINDOW}: ${maxAhead <= WINDOW ? 'yes' : 'NO'}`);

  const code = await within(childExit, 5000, 'the child exiting');
  console.log(`child exited with code ${code}`);
  if (code === 0 && maxAhead <= WINDOW && blockedWrites > 0) console.log('OK: the writer was held to the reader\'s window, and EOF arrived');
  else {
    console.log('FAIL');
    process.exitCode = 1;
  }
} catch (err) {
  console.error(`FAIL: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
} finally {
  killChild();
  await bus?.close();
  await broker?.close({ drainMs: 0 });
}
