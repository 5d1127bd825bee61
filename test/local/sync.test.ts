/**
 * Synchronization primitives over shared memory: mutual exclusion proven by no lost
 * updates on a plain (non-atomic) counter across worker threads and across processes in
 * a segment, timeouts and aborts, a mutex owner SIGKILLed while holding the lock (the next
 * locker learns `ownerDied` and carries on), semaphore bounds, barrier generations,
 * condition-variable producer/consumer, readers–writer exclusion and writer preference.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { ErrorCode, PlexusError } from '../../src/errors/index.js';
import { Barrier, ConditionVariable, Mutex, RWLock, Semaphore, SharedSegment } from '../../src/local/index.js';
import { Cleanup, delay, fixture, needsShm, uniqueName, within } from './helpers.js';

function startWorker(cleanup: Cleanup, data: Record<string, unknown>): Promise<Record<string, unknown>> {
  const worker = new Worker(fixture('sync-worker.js'), { workerData: data });
  cleanup.defer(() => worker.terminate());
  return within(
    new Promise((resolve, reject) => {
      worker.once('message', (m: Record<string, unknown> & { error?: string }) => (m.error !== undefined ? reject(new Error(`worker ${String(data.role)}: ${m.error}`)) : resolve(m)));
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`worker ${String(data.role)} exited (${code}) without a result`)));
    }),
    20_000,
    `worker ${String(data.role)}`,
  );
}

interface ChildRun {
  readonly pid: number;
  /** Resolves when the child printed `line`. */
  line(line: string): Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** stdout once the child exited with code 0. */
  output(): Promise<string>;
}

function startChild(cleanup: Cleanup, args: string[]): ChildRun {
  const p = spawn(process.execPath, [fixture('sync-child.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = p.pid!;
  let out = '';
  let err = '';
  const listeners: (() => void)[] = [];
  p.stdout.setEncoding('utf8').on('data', (s: string) => {
    out += s;
    for (const l of listeners) l();
  });
  p.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => p.once('exit', (code, signal) => resolve({ code, signal })));
  cleanup.defer(async () => {
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await exited;
  });
  return {
    pid,
    exited,
    output: () =>
      within(
        exited.then(({ code, signal }) => {
          if (code !== 0) throw new Error(`child ${pid} exited (${code ?? signal}); stderr: ${err}`);
          return out;
        }),
        15_000,
        `child ${pid} exit`,
      ),
    line(line: string): Promise<void> {
      return within(
        Promise.race([
          new Promise<void>((resolve) => {
            const check = (): void => {
              if (out.split('\n').includes(line)) resolve();
            };
            listeners.push(check);
            check();
          }),
          exited.then(({ code, signal }) => {
            if (!out.split('\n').includes(line)) throw new Error(`child ${pid} exited (${code ?? signal}) before printing ${line}; stderr: ${err}`);
          }),
        ]),
        15_000,
        `child ${pid} ${line}`,
      );
    },
  };
}

function createSegment(cleanup: Cleanup, tag: string): SharedSegment {
  const seg = SharedSegment.create(uniqueName(tag), { size: 4096 });
  cleanup.defer(() => seg.close());
  return seg;
}

void describe('Mutex', () => {
  for (const wake of ['atomics', 'futex'] as const) {
    void it(`no lost updates on a plain counter: 4 worker threads (2 sync, 2 async) x 1500, ${wake} wake`, async (t) => {
      if (wake === 'futex' && !needsShm(t)) return;
      const cleanup = new Cleanup(t);
      const buffer = new SharedArrayBuffer(1024);
      Mutex.create(buffer, 0, { wake });
      const iters = 1500;
      await Promise.all([0, 1, 2, 3].map((i) => startWorker(cleanup, { role: 'mutex-count', buffer, iters, async: i % 2 === 1 })));
      assert.equal(new Int32Array(buffer, 256, 1)[0], 4 * iters);
    });
  }

  void it('futex wake without the addon: a coded error saying why, nothing written', () => {
    const buffer = new SharedArrayBuffer(64);
    assert.throws(
      () => Mutex.create(buffer, 0, { wake: 'futex', addon: { path: '/nonexistent/plexus_shm.node' } }),
      (e: PlexusError) => e.code === ErrorCode.SHM_UNAVAILABLE && /not built/.test((e.details as { reason: string }).reason),
    );
    assert.deepEqual([...new Int32Array(buffer)].filter((x) => x !== 0), []);
    assert.throws(() => Mutex.attach(buffer, 0), { code: ErrorCode.INVALID_ARGUMENT });
  });

  void it('tryLock, unlock by a non-owner, timeouts, abort, and the main thread keeps running', async (t) => {
    const cleanup = new Cleanup(t);
    const buffer = new SharedArrayBuffer(128);
    const m = Mutex.create(buffer, 0);
    assert.equal(m.tryLock(), true);
    assert.equal(m.locked, true);
    assert.equal(m.heldByMe, true);
    assert.equal(m.tryLock(), false);

    // A worker holds it: the main thread times out, is aborted, and is never blocked.
    m.unlock();
    assert.throws(() => m.unlock(), { code: ErrorCode.INVALID_ARGUMENT });
    const stats = new Int32Array(buffer, 64, 1);
    const holder = new Worker(
      `const { workerData, parentPort } = require('node:worker_threads');
       const s = new Int32Array(workerData, 64, 1);
       import(${JSON.stringify(new URL('../../src/local/index.js', import.meta.url).href)}).then(({ Mutex }) => {
         const m = Mutex.attach(workerData, 0);
         m.lockSync(5000);
         parentPort.postMessage('locked');
         Atomics.wait(s, 0, 0, 10000);
         m.unlock();
         parentPort.postMessage('unlocked');
       });`,
      { eval: true, workerData: buffer },
    );
    cleanup.defer(() => holder.terminate());
    const messages: string[] = [];
    const got = (what: string): Promise<void> =>
      within(
        new Promise<void>((resolve) => {
          const check = (): void => (messages.includes(what) ? resolve() : void setTimeout(check, 5));
          check();
        }),
        5000,
        what,
      );
    holder.on('message', (msg: string) => messages.push(msg));
    await got('locked');
    assert.equal(m.tryLock(), false);
    assert.equal(m.heldByMe, false);
    assert.throws(() => m.lockSync(60), (e: PlexusError) => e.code === ErrorCode.TIMEOUT, 'the blocking form times out too');

    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    const t0 = performance.now();
    await assert.rejects(m.lock({ timeoutMs: 150 }), (e: PlexusError) => e.code === ErrorCode.TIMEOUT);
    clearInterval(ticker);
    assert.ok(performance.now() - t0 >= 140, 'waited the timeout');
    assert.ok(ticks >= 5, `the event loop ran while waiting (${ticks} ticks)`);

    const ac = new AbortController();
    const reason = new Error('changed my mind');
    setTimeout(() => ac.abort(reason), 30);
    await assert.rejects(m.lock({ signal: ac.signal, timeoutMs: 5000 }), (e) => e === reason);
    await assert.rejects(m.lock({ signal: ac.signal }), (e) => e === reason, 'already aborted');

    // Release the holder: a pending lock() gets it.
    const pending = m.lock({ timeoutMs: 5000 });
    Atomics.store(stats, 0, 1);
    Atomics.notify(stats, 0);
    const r = await pending;
    assert.equal(r.ownerDied, false);
    assert.equal(m.heldByMe, true);
    m.unlock();
    assert.equal(await m.withLock(() => 42), 42);
    assert.equal(m.locked, false);
  });

  void it('validates its region and refuses to attach to something else', () => {
    const buffer = new SharedArrayBuffer(256);
    assert.throws(() => Mutex.create(buffer, 4), { code: ErrorCode.INVALID_ARGUMENT });
    assert.throws(() => Mutex.create(buffer, 200), { code: ErrorCode.INVALID_ARGUMENT });
    assert.throws(() => Mutex.attach(buffer, 0), { code: ErrorCode.INVALID_ARGUMENT }, 'nothing created there');
    Semaphore.create(buffer, 64);
    assert.throws(() => Mutex.attach(buffer, 64), { code: ErrorCode.INVALID_ARGUMENT }, 'a semaphore is not a mutex');
  });

  void it('no lost updates across 3 processes in a shared segment (futex wake)', async (t) => {
    if (!needsShm(t)) return;
    const cleanup = new Cleanup(t);
    const seg = createSegment(cleanup, 'sync-count');
    const m = Mutex.create(seg.buffer, seg.dataOffset, { wake: 'futex' });
    assert.equal(m.wake, 'futex');
    const iters = 1500;
    const kids = ['sync', 'async', 'sync'].map((mode) => startChild(cleanup, ['count', seg.name, String(iters), mode]));
    await Promise.all(kids.map((k) => k.line('done')));
    const exits = await Promise.all(kids.map((k) => k.exited));
    assert.deepEqual(exits.map((e) => e.code), [0, 0, 0]);
    assert.equal(new Int32Array(seg.buffer, seg.dataOffset + 64, 1)[0], 3 * iters);
  });

  void it('an owner SIGKILLed while holding it: the next locker gets ownerDied and carries on', async (t) => {
    if (!needsShm(t)) return;
    const cleanup = new Cleanup(t);
    const seg = createSegment(cleanup, 'sync-died');
    const m = Mutex.create(seg.buffer, seg.dataOffset, { wake: 'futex', sleepSliceMs: 50 });
    const words = new Int32Array(seg.buffer, seg.dataOffset + 64, 2);

    const holder = startChild(cleanup, ['hold', seg.name]);
    await holder.line('locked');
    assert.equal(m.tryLock(), false);
    // A waiter already sleeping when the owner dies.
    const waiting = m.lock({ timeoutMs: 5000 });
    await delay(30);
    process.kill(holder.pid, 'SIGKILL');
    await holder.exited;
    const r = await within(waiting, 3000, 'lock after the owner died');
    assert.equal(r.ownerDied, true);
    assert.equal(r.code, ErrorCode.OWNER_DIED);
    assert.equal(r.previousOwner?.pid, holder.pid);
    assert.equal(m.heldByMe, true);
    assert.equal(words[1], 1, 'the state the dead owner left dirty');
    words[1] = 0; // repair
    m.unlock();
    const again = await m.lock({ timeoutMs: 1000 });
    assert.equal(again.ownerDied, false);
    m.unlock();

    // The 'throw' flavour: a coded error, and the lock is held by the caller.
    const second = startChild(cleanup, ['hold', seg.name]);
    await second.line('locked');
    process.kill(second.pid, 'SIGKILL');
    await second.exited;
    await assert.rejects(
      m.lock({ timeoutMs: 3000, ownerDied: 'throw' }),
      (e: PlexusError) => e.code === ErrorCode.OWNER_DIED && (e.details as { previousOwner: { pid: number } }).previousOwner.pid === second.pid,
    );
    assert.equal(m.heldByMe, true);
    m.unlock();

    // The blocking form (as a worker would use it) recovers the same way.
    const third = startChild(cleanup, ['hold', seg.name]);
    await third.line('locked');
    process.kill(third.pid, 'SIGKILL');
    await third.exited;
    const sync = m.lockSync(3000);
    assert.equal(sync.ownerDied, true);
    assert.equal(sync.previousOwner?.pid, third.pid);
    m.unlock();
  });
});

void describe('Semaphore', () => {
  void it('never more than N holders: 4 worker threads on 2 permits', async (t) => {
    const cleanup = new Cleanup(t);
    const buffer = new SharedArrayBuffer(1024);
    Semaphore.create(buffer, 0, { permits: 2 });
    await Promise.all([0, 1, 2, 3].map(() => startWorker(cleanup, { role: 'semaphore', buffer, iters: 400 })));
    const stats = new Int32Array(buffer, 256, 2);
    assert.equal(stats[0], 0);
    assert.ok(stats[1]! <= 2, `max holders ${stats[1]}`);
    assert.ok(stats[1]! >= 1);
  });

  void it('acquire(n)/release(n), tryAcquire, timeout, abort, max', async () => {
    const buffer = new SharedArrayBuffer(64);
    const s = Semaphore.create(buffer, 0, { permits: 3 });
    assert.equal(s.available, 3);
    assert.equal(s.tryAcquire(2), true);
    assert.equal(s.tryAcquire(2), false);
    await assert.rejects(s.acquire(2, { timeoutMs: 50 }), { code: ErrorCode.TIMEOUT });
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('stop')), 20);
    await assert.rejects(s.acquire(3, { signal: ac.signal }), /stop/);
    const pending = s.acquire(3, { timeoutMs: 2000 });
    setTimeout(() => s.release(2), 20);
    await pending;
    assert.equal(s.available, 0);
    assert.throws(() => s.release(4), { code: ErrorCode.INVALID_ARGUMENT });
    await assert.rejects(s.acquire(4), { code: ErrorCode.INVALID_ARGUMENT });
    s.release(3);
    assert.equal(s.available, 3);
  });
});

void describe('Barrier', () => {
  for (const wake of ['atomics', 'futex'] as const) {
    void it(`releases all 4 parties together, generation after generation (sync and async workers), ${wake} wake`, async (t) => {
      if (wake === 'futex' && !needsShm(t)) return;
      const cleanup = new Cleanup(t);
      const buffer = new SharedArrayBuffer(1024);
      Barrier.create(buffer, 0, { parties: 4, wake });
      const gens = 100;
      const results = await Promise.all([0, 1, 2, 3].map((index) => startWorker(cleanup, { role: 'barrier', buffer, iters: gens, index, async: index % 2 === 0 })));
      assert.deepEqual(results.map((r) => r.bad), [0, 0, 0, 0]);
      assert.equal(results.reduce((n, r) => n + (r.serial as number), 0), gens, 'one serial party per generation');
      assert.equal(Barrier.attach(buffer, 0).generation, gens);
    });
  }

  void it('releases 3 processes together for 50 generations (futex wake, sync and async waits)', async (t) => {
    if (!needsShm(t)) return;
    const cleanup = new Cleanup(t);
    const seg = createSegment(cleanup, 'sync-barrier');
    const b = Barrier.create(seg.buffer, seg.dataOffset + 128, { parties: 3, wake: 'futex' });
    const gens = 50;
    const kids = [0, 1, 2].map((index) => startChild(cleanup, ['barrier', seg.name, String(gens), String(index)]));
    const outs = await Promise.all(kids.map((k) => k.output()));
    let serial = 0;
    for (const out of outs) {
      const m = /^bad=(\d+) serial=(\d+)$/m.exec(out);
      assert.ok(m, out);
      assert.equal(m[1], '0', out);
      serial += Number(m[2]);
    }
    assert.equal(serial, gens, 'one serial party per generation');
    assert.equal(b.generation, gens);
  });

  void it('a party that times out withdraws; the barrier stays usable', async () => {
    const buffer = new SharedArrayBuffer(64);
    const b = Barrier.create(buffer, 0, { parties: 2 });
    await assert.rejects(b.wait({ timeoutMs: 40 }), { code: ErrorCode.TIMEOUT });
    assert.equal(b.generation, 0);
    const [x, y] = await Promise.all([b.wait({ timeoutMs: 2000 }), b.wait({ timeoutMs: 2000 })]);
    assert.deepEqual([x.generation, y.generation], [0, 0]);
    assert.equal(Number(x.serial) + Number(y.serial), 1);
    assert.equal(b.generation, 1);
  });
});

void describe('ConditionVariable', () => {
  for (const wake of ['atomics', 'futex'] as const) {
  void it(`producer (main thread, async) and 3 consumer workers (sync): every item taken once, ${wake} wake`, async (t) => {
    if (wake === 'futex' && !needsShm(t)) return;
    const cleanup = new Cleanup(t);
    const buffer = new SharedArrayBuffer(1024);
    const m = Mutex.create(buffer, 0, { wake });
    const cv = ConditionVariable.create(buffer, 64, { wake });
    const q = new Int32Array(buffer, 256, 8);
    const consumers = [0, 1, 2].map(() => startWorker(cleanup, { role: 'consumer', buffer, iters: 0 }));
    const items = 300;
    for (let i = 0; i < items; i++) {
      await m.lock({ timeoutMs: 5000 });
      q[0] = q[0]! + 1;
      cv.notifyOne();
      m.unlock();
      if (i % 16 === 0) await delay(1);
    }
    await m.lock({ timeoutMs: 5000 });
    q[2] = 1;
    cv.notifyAll();
    m.unlock();
    const taken = (await Promise.all(consumers)).map((r) => r.taken as number);
    assert.equal(taken.reduce((a, b) => a + b, 0), items);
    assert.equal(q[1], items);
    assert.equal(q[4], (items * (items + 1)) / 2);
  });
  }

  void it('wait times out with the mutex held again', async () => {
    const buffer = new SharedArrayBuffer(128);
    const m = Mutex.create(buffer, 0);
    const cv = ConditionVariable.create(buffer, 64);
    await m.lock();
    await assert.rejects(cv.wait(m, { timeoutMs: 40 }), { code: ErrorCode.TIMEOUT });
    assert.equal(m.heldByMe, true);
    setTimeout(() => cv.notifyAll(), 20);
    const r = await cv.wait(m, { timeoutMs: 2000 });
    assert.equal(r.ownerDied, false);
    assert.equal(m.heldByMe, true);
    m.unlock();
  });
});

void describe('RWLock', () => {
  void it('readers share, writers are exclusive: 3 reader and 2 writer workers', async (t) => {
    const cleanup = new Cleanup(t);
    const buffer = new SharedArrayBuffer(1024);
    RWLock.create(buffer, 0);
    await Promise.all([
      ...[0, 1, 2].map(() => startWorker(cleanup, { role: 'rw-reader', buffer, iters: 600 })),
      ...[0, 1].map(() => startWorker(cleanup, { role: 'rw-writer', buffer, iters: 200 })),
    ]);
    const stats = new Int32Array(buffer, 256, 4);
    assert.equal(stats[3], 0, 'no reader saw a writer, no writer saw anyone');
    assert.ok(stats[2]! >= 1);
    assert.deepEqual([stats[0], stats[1]], [0, 0]);
  });

  void it('readers hold it at the same time: 3 reader workers meet at a barrier inside the read lock', async (t) => {
    const cleanup = new Cleanup(t);
    const buffer = new SharedArrayBuffer(1024);
    const l = RWLock.create(buffer, 0);
    Barrier.create(buffer, 64, { parties: 3 });
    const results = await Promise.all([0, 1, 2].map(() => startWorker(cleanup, { role: 'rw-readers-meet', buffer, iters: 20 })));
    assert.equal(results.length, 3);
    assert.equal(l.readers, 0);
    assert.equal(l.tryWriteLock(), true);
  });

  void it('prefers writers: a waiting writer holds back new readers', async () => {
    const buffer = new SharedArrayBuffer(64);
    const l = RWLock.create(buffer, 0);
    await l.readLock();
    assert.equal(l.tryReadLock(), true);
    assert.equal(l.readers, 2);
    assert.equal(l.tryWriteLock(), false);
    const writer = l.writeLock({ timeoutMs: 2000 });
    await delay(10);
    assert.equal(l.tryReadLock(), false, 'a writer is waiting');
    const reader = l.readLock({ timeoutMs: 2000 });
    l.readUnlock();
    l.readUnlock();
    await writer;
    assert.equal(l.writeLocked, true);
    l.writeUnlock();
    await reader;
    assert.equal(l.readers, 1);
    l.readUnlock();
    await assert.rejects(
      (async () => {
        await l.writeLock();
        await l.readLock({ timeoutMs: 30 });
      })(),
      { code: ErrorCode.TIMEOUT },
    );
    l.writeUnlock();
    assert.throws(() => l.writeUnlock(), { code: ErrorCode.INVALID_ARGUMENT });
    assert.throws(() => l.readUnlock(), { code: ErrorCode.INVALID_ARGUMENT });
  });
});
