/**
 * S16 — a Node child process over stdin/stdout, with typed request/reply and events.
 *
 * The parent runs a broker and serves the child's stdio as a connection
 * (`broker.accept(channelFromStreams(child.stdout, child.stdin))`); the child does
 * `connect('stdio:')`. The parent subscribes to the child's `child.event.*`, calls
 * `child.sum` (typed by protocol.ts), sees a handler error come back as a coded error,
 * then cancels a slow call with an AbortSignal: the cancel travels to the child, whose
 * handler signal fires, and the child reports that it saw it.
 *
 * Usage: node dist/examples/s16-child-stdio-rpc/main.js
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { channelFromStreams, connect, startBroker, type Broker, type Connection, type PlexusError } from '../../src/index.js';
import { EVENTS, call, type ChildEvent, type SumRequest } from './protocol.js';

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
createInterface({ input: child.stderr }).on('line', (line) => console.log(`[child stderr] ${line}`));

/** Events from the child, and a way to wait for one. */
const events: ChildEvent[] = [];
const eventWaiters = new Set<() => void>();
function nextEvent(match: (e: ChildEvent) => boolean, ms: number, what: string): Promise<ChildEvent> {
  return within(
    new Promise<ChildEvent>((resolve) => {
      const check = (): void => {
        const e = events.find(match);
        if (e) {
          eventWaiters.delete(check);
          resolve(e);
        }
      };
      eventWaiters.add(check);
      check();
    }),
    ms,
    what,
  );
}

let broker: Broker | undefined;
let bus: Connection | undefined;
try {
  broker = await startBroker({ listen: [`inproc://s16-${process.pid}`] });
  bus = await connect(broker.urls[0]!, { name: 's16-parent' });
  bus.subscribe(EVENTS, {
    callback: (msg) => {
      const e = msg.json<ChildEvent>();
      console.log(`event ${msg.subject} from ${msg.from}: ${msg.string()}`);
      events.push(e);
      for (const w of [...eventWaiters]) w();
    },
  });
  await bus.flush();
  broker.accept(channelFromStreams(child.stdout, child.stdin, 'child'));
  await nextEvent((e) => e.kind === 'ready', 5000, 'the child getting ready');

  // 1. A plain typed call, with progress events along the way.
  const r1 = await call(bus, 'child.sum', { id: 'r1', numbers: [1, 2, 3, 4, 5], stepDelayMs: 5 }, { timeout: 5000 });
  console.log(`call r1: sum of 1..5 = ${r1.sum}`);

  // 2. The handler throws: the error comes back with a stable code.
  try {
    await call(bus, 'child.sum', { id: 'r2', numbers: ['x'], stepDelayMs: 5 } as unknown as SumRequest, { timeout: 5000 });
    console.log('call r2: unexpectedly succeeded');
  } catch (err) {
    console.log(`call r2: rejected with ${(err as PlexusError).code}: ${(err as Error).message}`);
  }

  // 3. Cancel a slow call once it is under way; the child's handler sees the abort.
  const ac = new AbortController();
  const numbers = Array.from({ length: 50 }, (_, i) => i + 1);
  const r3 = call(bus, 'child.sum', { id: 'r3', numbers, stepDelayMs: 40 }, { timeout: 10_000, signal: ac.signal });
  await nextEvent((e) => e.kind === 'progress' && e.id === 'r3' && e.done >= 3, 5000, 'r3 progress');
  console.log('call r3: aborting after 3 progress events');
  ac.abort(new Error('the parent changed its mind'));
  try {
    await within(r3, 5000, 'r3 settling');
    console.log('call r3: unexpectedly succeeded');
  } catch (err) {
    console.log(`call r3: rejected: ${(err as Error).message}`);
  }
  const seen = await nextEvent((e) => e.kind === 'cancelled' && e.id === 'r3', 5000, 'the child reporting the cancel');
  if (seen.kind === 'cancelled') console.log(`the child saw the cancel after ${seen.done} of ${numbers.length} steps: ${seen.reason}`);
  const finishedR3 = events.some((e) => e.kind === 'finished' && e.id === 'r3');

  // 4. Shut down: the child sees its connection close and exits.
  await bus.close();
  bus = undefined;
  await broker.close();
  broker = undefined;
  const code = await within(childExit, 5000, 'the child exiting');
  console.log(`child exited with code ${code}`);
  if (r1.sum === 15 && !finishedR3 && code === 0) console.log('OK');
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
