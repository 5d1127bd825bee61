/**
 * S8 — synchronization primitives over shared memory, between processes.
 *
 * The parent creates a shared segment with a `Mutex` (futex wake, so it works across
 * processes) and a plain, non-atomic counter next to it. Several child processes (this
 * same file, started with `count`) each add 1 to the counter many times under the mutex:
 * read, yield to the event loop, write. Without the mutex updates would be lost; with it
 * the total is exact.
 *
 * Then owner-died recovery: a child (`hold`) takes the mutex, starts a two-step "transfer"
 * between two accounts (takes the money out of one, marks the transfer in progress) and
 * is SIGKILLed before finishing. The parent's next `lock()` resolves with
 * `ownerDied: true`; it repairs the half-done transfer and carries on.
 *
 * Usage: node dist/examples/s8-local-sync/main.js [processes] [increments each]   (default 3 × 2000)
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Mutex, SharedSegment, shmAvailability } from '../../src/local/index.js';

// Layout of the segment's data area.
const MUTEX_AT = 0; // 64 bytes
const COUNTER = 16; // Int32 index of the counter (byte 64)
const FROM = 17; // account A
const TO = 18; // account B
const IN_PROGRESS = 19; // amount of a transfer begun but not finished (0 when none)

const self = fileURLToPath(import.meta.url);
const [role, segName, arg] = process.argv.slice(2);

function attach(seg: SharedSegment): { mutex: Mutex; words: Int32Array } {
  return { mutex: Mutex.attach(seg.buffer, seg.dataOffset + MUTEX_AT), words: new Int32Array(seg.buffer, seg.dataOffset, 32) };
}

async function countChild(name: string, n: number): Promise<void> {
  const seg = await SharedSegment.openAsync(name, { timeoutMs: 5000 });
  const { mutex, words } = attach(seg);
  for (let i = 0; i < n; i++) {
    await mutex.lock({ timeoutMs: 10_000 });
    const v = words[COUNTER]!; // a plain read...
    await new Promise((resolve) => setImmediate(resolve)); // ...others run meanwhile...
    words[COUNTER] = v + 1; // ...a plain write
    mutex.unlock();
  }
  seg.close();
}

async function holdChild(name: string): Promise<void> {
  const seg = await SharedSegment.openAsync(name, { timeoutMs: 5000 });
  const { mutex, words } = attach(seg);
  await mutex.lock({ timeoutMs: 5000 });
  // First half of a transfer of 30 from A to B; the second half never happens.
  words[IN_PROGRESS] = 30;
  words[FROM] = words[FROM]! - 30;
  process.stdout.write('locked\n');
  setInterval(() => {}, 1000); // wait to be killed
}

function run(args: string[]): { pid: number; done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>; printed(line: string): Promise<void> } {
  const p = spawn(process.execPath, [self, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const waiting: { line: string; resolve: () => void }[] = [];
  p.stdout.setEncoding('utf8').on('data', (s: string) => {
    out += s;
    for (const w of waiting) if (out.split('\n').includes(w.line)) w.resolve();
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => p.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    pid: p.pid!,
    done,
    printed: (line) =>
      new Promise<void>((resolve, reject) => {
        waiting.push({ line, resolve });
        void done.then(() => reject(new Error(`child ${p.pid} exited before printing ${line}`)));
      }),
  };
}

async function parent(): Promise<void> {
  const avail = shmAvailability();
  if (!avail.available) {
    console.log(`shared memory is unavailable: ${avail.reason}`);
    process.exitCode = 1;
    return;
  }
  const processes = Number(role ?? 3);
  const each = Number(segName ?? 2000);
  const seg = SharedSegment.create(`plexus-s8-sync-${process.pid}`, { size: 4096 });
  try {
    const mutex = Mutex.create(seg.buffer, seg.dataOffset + MUTEX_AT, { wake: 'futex', sleepSliceMs: 50 });
    const words = new Int32Array(seg.buffer, seg.dataOffset, 32);

    // 1. Several processes, one counter.
    const t0 = performance.now();
    const kids = Array.from({ length: processes }, () => run(['count', seg.name, String(each)]));
    for (const k of kids) console.log(`started counter pid=${k.pid}`);
    const exits = await Promise.all(kids.map((k) => k.done));
    if (exits.some((e) => e.code !== 0)) throw new Error(`a counter failed: ${JSON.stringify(exits)}`);
    const total = words[COUNTER]!;
    console.log(`${processes} processes x ${each} increments under the mutex: total ${total} (expected ${processes * each}) in ${Math.round(performance.now() - t0)} ms`);
    if (total !== processes * each) throw new Error('lost updates');

    // 2. Owner-died recovery.
    words[FROM] = 100;
    words[TO] = 0;
    const holder = run(['hold', seg.name]);
    console.log(`started holder pid=${holder.pid}`);
    await holder.printed('locked');
    console.log(`holder locked the mutex and began a transfer: A=${words[FROM]} B=${words[TO]} in progress=${words[IN_PROGRESS]}`);
    process.kill(holder.pid, 'SIGKILL');
    await holder.done;
    console.log('holder killed with SIGKILL while holding the mutex');

    const r = await mutex.lock({ timeoutMs: 5000 });
    if (!r.ownerDied) throw new Error('expected ownerDied');
    console.log(`lock() resolved with ownerDied=true (${r.code}), previous owner pid ${r.previousOwner?.pid}`);
    const pending = words[IN_PROGRESS]!;
    if (pending !== 0) {
      // Repair: finish the transfer the dead owner began.
      words[TO] = words[TO]! + pending;
      words[IN_PROGRESS] = 0;
      console.log(`repaired: finished the transfer of ${pending}: A=${words[FROM]} B=${words[TO]}`);
    }
    mutex.unlock();
    const again = await mutex.lock({ timeoutMs: 1000 });
    console.log(`next lock() is normal again: ownerDied=${again.ownerDied}; A+B=${words[FROM]! + words[TO]!}`);
    mutex.unlock();
    console.log('OK');
  } finally {
    seg.close();
  }
}

if (role === 'count') await countChild(segName!, Number(arg));
else if (role === 'hold') await holdChild(segName!);
else await parent();
