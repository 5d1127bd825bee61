/**
 * The native addon: loading (and the coded error when it is missing), futex wait/wake
 * blocking and async (timeouts, cancellation, keeping or not keeping the process alive,
 * worker termination), SO_PEERCRED.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ErrorCode, PlexusError } from '../../src/errors/index.js';
import { atomicsWaiter, futexWaiter, loadShm, peerCredentials, SharedSegment, shmAvailability } from '../../src/local/index.js';
import { Cleanup, fixture, needsShm, runNode, runWorker, shm, within } from './helpers.js';

void describe('shared-memory addon: availability', () => {
  void it('is built and loads here (or says clearly why not)', (t) => {
    if (!needsShm(t)) return;
    assert.equal(shm.available, true);
    const addon = loadShm();
    assert.equal(typeof addon.create, 'function');
  });

  void it('a missing addon gives PLEXUS_ERR_SHM_UNAVAILABLE with the reason; nothing else breaks', () => {
    const path = join(tmpdir(), `plexus-no-such-addon-${process.pid}.node`);
    const avail = shmAvailability({ path });
    assert.equal(avail.available, false);
    assert.match((avail as { reason: string }).reason, /not built/);
    let err: unknown;
    try {
      loadShm({ path });
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof PlexusError);
    assert.equal(err.code, ErrorCode.SHM_UNAVAILABLE);
    assert.match(err.message, /not built/);
    assert.deepEqual(err.details, { reason: (avail as { reason: string }).reason, path });
    // Everything that needs it reports the same code...
    assert.throws(() => SharedSegment.create('plexus-never-created', { size: 4096, addon: { path } }), { code: ErrorCode.SHM_UNAVAILABLE });
    assert.throws(() => futexWaiter({ path }), { code: ErrorCode.SHM_UNAVAILABLE });
    assert.throws(() => peerCredentials(0, { path }), { code: ErrorCode.SHM_UNAVAILABLE });
    // ...while in-process waiting needs no addon at all.
    const i32 = new Int32Array(new SharedArrayBuffer(4));
    assert.equal(atomicsWaiter.waitSync(i32, 0, 1, 0), 'not-equal');
  });

  void it('a file that is not a loadable addon gives a load error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'plexus-addon-'));
    try {
      const path = join(dir, 'bogus.node');
      writeFileSync(path, 'not an ELF file');
      assert.throws(() => loadShm({ path }), (err: PlexusError) => err.code === ErrorCode.SHM_UNAVAILABLE && /load error/.test(err.message));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void it('PLEXUS_SHM_ADDON points the loader elsewhere (used by tooling to simulate a missing build)', async (t) => {
    const cleanup = new Cleanup(t);
    const script = `
      const { loadShm } = await import(${JSON.stringify(new URL('../../src/local/addon.js', import.meta.url).href)});
      try { loadShm(); console.log('loaded'); } catch (e) { console.log(e.code + ' ' + e.details.reason); }
    `;
    const { out } = await runNode(cleanup, ['--input-type=module', '-e', script], {
      env: { ...process.env, PLEXUS_SHM_ADDON: '/nonexistent/plexus_shm.node' },
    });
    assert.match(out, /^PLEXUS_ERR_SHM_UNAVAILABLE not built: \/nonexistent\/plexus_shm\.node does not exist/);
  });
});

void describe('shared-memory addon: futex', () => {
  void it('blocking wait: not-equal at once, timed-out after its timeout, woken by wake', async (t) => {
    if (!needsShm(t)) return;
    const cleanup = new Cleanup(t);
    const addon = loadShm();
    const sab = new SharedArrayBuffer(16);
    assert.equal(addon.wait(sab, 4, 1, 1000), 'not-equal');
    let t0 = performance.now();
    assert.equal(addon.wait(sab, 4, 0, 60), 'timed-out');
    assert.ok(performance.now() - t0 >= 55, 'waited out the timeout');
    assert.throws(() => addon.wait(sab, 3, 0, 1), RangeError, 'misaligned');
    assert.throws(() => addon.wait(sab, 16, 0, 1), RangeError, 'out of bounds');
    assert.throws(() => addon.wait(new ArrayBuffer(8) as unknown as SharedArrayBuffer, 0, 0, 1), TypeError);

    // A worker blocks in FUTEX_WAIT; this thread wakes it. The word keeps its value (a
    // change before the worker is inside the wait would make it return "not-equal"), so
    // wake until the kernel reports a waiter woken.
    const w = runWorker<{ result: string; ms: number }>(cleanup, { role: 'futex-wait', buffer: sab, byteOffset: 8, expected: 0, timeoutMs: 5000 });
    await new Promise<void>((resolve) => w.worker.once('message', () => resolve()));
    t0 = performance.now();
    let woken = 0;
    while (woken === 0 && performance.now() - t0 < 3000) {
      await new Promise((r) => setTimeout(r, 5));
      woken = addon.wake(sab, 8, 1);
    }
    assert.equal(woken, 1);
    const r = await w.result;
    assert.equal(r.result, 'ok');
    assert.ok(r.ms < 4000);
  });

  void it('async wait: woken, timed out, cancelled by AbortSignal; never blocks the loop', async (t) => {
    if (!needsShm(t)) return;
    const addon = loadShm();
    const waiter = futexWaiter();
    const i32 = new Int32Array(new SharedArrayBuffer(16));

    const woken = waiter.waitAsync(i32, 1, 0, 5000);
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 1);
    await new Promise((r) => setTimeout(r, 30));
    // Wake until the helper thread was inside the wait (the word keeps its value).
    for (let i = 0; i < 300 && waiter.wake(i32, 1) === 0; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(await within(woken, 3000, 'woken wait'), 'ok');
    clearInterval(ticker);
    assert.ok(ticks >= 5, 'the event loop kept running');

    const t0 = performance.now();
    assert.equal(await waiter.waitAsync(i32, 2, 0, 50), 'timed-out');
    assert.ok(performance.now() - t0 >= 45);
    assert.equal(await waiter.waitAsync(i32, 2, 7, 1000), 'not-equal');

    const ac = new AbortController();
    const pending = waiter.waitAsync(i32, 3, 0, 10_000, ac.signal);
    setTimeout(() => ac.abort(new Error('enough')), 20);
    await assert.rejects(within(pending, 3000, 'aborted wait'), /enough/);
    assert.equal(addon.pendingWaits(), 0, 'no wait left behind');
    assert.throws(() => addon.waitAsync(i32.buffer as SharedArrayBuffer, 0, 0, Infinity, true), RangeError, 'async waits must be bounded');
  });

  void it('an unref\'ed pending wait does not keep the process alive; a ref\'ed one does until its timeout', async (t) => {
    if (!needsShm(t)) return;
    const cleanup = new Cleanup(t);
    const run = (mode: string, ms: number): Promise<{ out: string; elapsed: number }> =>
      runNode(cleanup, [fixture('shm-child.js'), 'wait-exit', mode, String(ms)]);
    const [unref, ref] = await Promise.all([run('unref', 10_000), run('ref', 300)]);
    assert.match(unref.out, /^started\n$/, 'exited without settling');
    assert.ok(unref.elapsed < 5000, `unref'ed wait exited after ${unref.elapsed} ms`);
    assert.match(ref.out, /started\nsettled timed-out \d+/);
    assert.ok(Number(/settled timed-out (\d+)/.exec(ref.out)![1]) >= 290);
  });

  void it('terminating a worker with pending async waits is clean', async (t) => {
    if (!needsShm(t)) return;
    const cleanup = new Cleanup(t);
    const code = `
      const { parentPort } = require('node:worker_threads');
      const addon = require(${JSON.stringify(shm.path)});
      const sab = new SharedArrayBuffer(8);
      for (let i = 0; i < 3; i++) addon.waitAsync(sab, 0, 0, 20000, true);
      parentPort.postMessage(addon.pendingWaits());
    `;
    for (let round = 0; round < 3; round++) {
      const w = new Worker(code, { eval: true });
      cleanup.defer(() => w.terminate());
      const pending = await within(new Promise((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      }), 5000, 'worker start');
      assert.equal(pending, 3);
      const t0 = performance.now();
      await within(w.terminate(), 5000, 'worker terminate');
      assert.ok(performance.now() - t0 < 2000, 'teardown cancelled the waits');
    }
  });
});

void describe('shared-memory addon: SO_PEERCRED', () => {
  void it('reports the pid, uid and gid of the process at the other end of a Unix socket', async (t) => {
    if (!needsShm(t)) return;
    const cleanup = new Cleanup(t);
    const dir = mkdtempSync(join(tmpdir(), 'plexus-cred-'));
    cleanup.defer(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 's.sock');
    const accepted = new Promise<Socket>((resolve) => {
      const server = createServer(resolve);
      server.listen(path);
      cleanup.defer(() => new Promise((r) => server.close(r)));
    });
    await new Promise((r) => setTimeout(r, 10));
    const client = connect(path);
    cleanup.defer(() => client.destroy());
    const sock = await within(accepted, 3000, 'accept');
    cleanup.defer(() => sock.destroy());
    const fd = (sock as unknown as { _handle: { fd: number } })._handle.fd;
    const cred = peerCredentials(fd);
    assert.deepEqual(cred, { pid: process.pid, uid: process.getuid!(), gid: process.getgid!() });
    assert.throws(() => peerCredentials(0x7fff_fff0), { code: ErrorCode.SHM_FAILED });
  });
});
