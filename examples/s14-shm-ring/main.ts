/**
 * S14 — a shared memory segment mapped into two processes, with no system calls on the
 * data path.
 *
 * 1. The main process creates a segment (POSIX shm, mode 0600) holding two SPSC rings
 *    and starts a peer that maps it. 10 000 ping-pong round trips of 16 bytes go through
 *    the rings while both sides spin: each side counts its thread's *voluntary* context
 *    switches over the run — every blocking system call (a futex wait, a read on a
 *    socket) adds one, so a count near zero is the proof that the data path never
 *    entered the kernel to wait.
 * 2. The same mechanism as a Plexus transport: a broker listens on `shm://`, the peer
 *    connects and serves `s14.add`, the main process calls it.
 *
 * Needs the native addon (Linux); without it, it says why and exits with code 2.
 * Usage: node dist/examples/s14-shm-ring/main.js
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connect, startBroker } from '../../src/index.js';
import { SharedSegment, SpscRing, ringByteLength, shmAvailability } from '../../src/local/index.js';
import { voluntarySwitches } from './switches.js';

const shm = shmAvailability();
if (!shm.available) {
  console.log(`PLEXUS_ERR_SHM_UNAVAILABLE: shm:// needs the native addon (${shm.reason}); nothing to show`);
  process.exit(2);
}

const ROUND_TRIPS = 10_000;
const CAPACITY = 1 << 16;
const name = `plexus-s14-${process.pid}`;
const address = `shm://s14-${process.pid}`;
const seg = SharedSegment.create(name, { size: 2 * ringByteLength(CAPACITY) });
const pingOffset = seg.dataOffset;
const pongOffset = seg.dataOffset + ringByteLength(CAPACITY);
const ping = SpscRing.create(seg.buffer, { byteOffset: pingOffset, capacity: CAPACITY, wake: 'futex', checkPeer: () => seg.checkPeers() });
const pong = SpscRing.create(seg.buffer, { byteOffset: pongOffset, capacity: CAPACITY, wake: 'futex', checkPeer: () => seg.checkPeers() });

const broker = await startBroker({ listen: [address] });
const peer = spawn(process.execPath, [fileURLToPath(new URL('./peer.js', import.meta.url)), name, String(pingOffset), String(pongOffset), address], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
console.log(`segment /dev/shm/${name}: ${seg.dataSize} bytes, two rings; peer pid=${peer.pid}`);
process.on('exit', () => {
  if (peer.exitCode === null && peer.signalCode === null) peer.kill('SIGKILL');
});
const peerLines: string[] = [];
const waiters = new Set<() => void>();
createInterface({ input: peer.stdout! }).on('line', (line) => {
  peerLines.push(line);
  console.log(`[peer] ${line}`);
  for (const w of [...waiters]) w();
});
function peerSaid(re: RegExp, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the peer did not say ${re} within ${ms} ms`)), ms);
    const check = (): void => {
      const line = peerLines.find((l) => re.test(l));
      if (!line) return;
      clearTimeout(timer);
      waiters.delete(check);
      resolve(line);
    };
    waiters.add(check);
    check();
  });
}

let ok = true;
try {
  await peerSaid(/^mapped$/, 10_000);

  // 1. Ping-pong, spinning on both sides: a synchronous loop, bounded by a deadline.
  const msg = new Uint8Array(16);
  const rtts: number[] = [];
  const before = voluntarySwitches();
  const deadline = Date.now() + 30_000;
  for (let i = 0; i < ROUND_TRIPS && Date.now() < deadline; i++) {
    new DataView(msg.buffer).setUint32(0, i, true);
    const t0 = process.hrtime.bigint();
    while (!ping.tryWrite(msg)) {
      // the peer drains ping at once
    }
    let back: Uint8Array | undefined;
    for (let spins = 0; back === undefined; spins++) {
      back = pong.tryRead();
      if ((spins & 0xffff) === 0xffff && Date.now() > deadline) break;
    }
    if (back === undefined || new DataView(back.buffer, back.byteOffset).getUint32(0, true) !== i) {
      ok = false;
      break;
    }
    rtts.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  const switches = voluntarySwitches() - before;
  ping.closeWrite();
  rtts.sort((a, b) => a - b);
  const pct = (p: number): string => (rtts[Math.min(rtts.length - 1, Math.floor(rtts.length * p))] ?? NaN).toFixed(1);
  console.log(`${rtts.length} round trips of 16 B, every one echoed intact: ${ok && rtts.length === ROUND_TRIPS}`);
  console.log(`round trip p50 ${pct(0.5)} µs, p99 ${pct(0.99)} µs (spinning; noisy on a shared machine)`);
  console.log(`main: ${switches} voluntary context switches while spinning`);
  ok &&= rtts.length === ROUND_TRIPS;
  await peerSaid(/^peer: echoed/, 10_000);
  seg.close();

  // 2. Plexus over the same kind of memory: request/reply on shm://.
  await peerSaid(/^serving s14\.add/, 10_000);
  const bus = await connect(address, { name: 's14-main', reconnect: false });
  const reply = (await bus.request('s14.add', JSON.stringify({ a: 20, b: 22 }), { timeout: 5000 })).json<{ sum: number; pid: number }>();
  console.log(`s14.add over ${address}: 20 + 22 = ${reply.sum} (answered by pid ${reply.pid})`);
  ok &&= reply.sum === 42 && reply.pid === peer.pid;
  await bus.close();
} catch (err) {
  console.log(`FAIL: ${(err as Error).message}`);
  ok = false;
} finally {
  await broker.close({ drainMs: 0 });
  const exited = new Promise((resolve) => (peer.exitCode !== null ? resolve(undefined) : peer.once('exit', resolve)));
  const late = setTimeout(() => peer.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(late);
}
console.log(ok ? 'OK' : 'FAIL');
if (!ok) process.exitCode = 1;
