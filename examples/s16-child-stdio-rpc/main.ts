/**
 * S16 — a Node child process over stdin/stdout, with typed request/reply and events.
 *
 * `spawn(module)` starts the child and resolves with a connected client once the child
 * has connected back (`connectParent()` in child.ts) — over the child's stdin/stdout by
 * default, or `ipc` / `shm` (pass it as the first argument). The parent subscribes to the
 * child's `child.event.*`, calls `child.sum` (typed by protocol.ts), sees a handler error
 * come back as a coded error, then cancels a slow call with an AbortSignal: the cancel
 * travels to the child, whose handler signal fires, and the child reports that it saw it.
 *
 * Usage: node dist/examples/s16-child-stdio-rpc/main.js [stdio|ipc|shm]
 */
import { spawn, type Connection, type PlexusError, type SpawnedChild, type SpawnTransport } from '../../src/index.js';
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

const transport = (process.argv[2] ?? 'stdio') as SpawnTransport;
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130)); // the child is killed on exit

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

let child: SpawnedChild | undefined;
try {
  child = await spawn(new URL('./child.js', import.meta.url), {
    transport,
    onStderr: (line) => console.log(`[child stderr] ${line}`),
  });
  console.log(`started child pid=${child.pid} over ${child.transport}`);
  const bus: Connection = child.connection;
  bus.subscribe(EVENTS, {
    callback: (msg) => {
      const e = msg.json<ChildEvent>();
      console.log(`event ${msg.subject} from ${msg.from}: ${msg.string()}`);
      events.push(e);
      for (const w of [...eventWaiters]) w();
    },
  });
  await bus.flush();
  await child.request('child.hello', undefined, { timeout: 5000 });
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

  // 4. Shut down: the child sees its connection close and exits by itself.
  const exit = await within(child.close(), 10_000, 'the child exiting');
  console.log(`child exited with code ${exit.exitCode}`);
  if (r1.sum === 15 && !finishedR3 && exit.exitCode === 0) console.log('OK');
  else {
    console.log('FAIL');
    process.exitCode = 1;
  }
} catch (err) {
  console.error(`FAIL: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
} finally {
  await child?.kill().catch(() => undefined);
}
