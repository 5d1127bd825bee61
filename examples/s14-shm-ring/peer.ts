/**
 * S14 peer: maps the segment the main process created, answers every record on the ping
 * ring with the same bytes on the pong ring — spinning, so no system call on the data
 * path — then connects to the main process's broker over `shm://` and serves `s14.add`.
 * Usage: node peer.js <segment name> <ping offset> <pong offset> <shm:// address>
 */
import { SharedSegment, SpscRing } from '../../src/local/index.js';
import { connect } from '../../src/index.js';
import { voluntarySwitches } from './switches.js';

const [name, pingOffset, pongOffset, address] = process.argv.slice(2);
setTimeout(() => process.exit(9), 60_000).unref(); // never outlive the example by long

const seg = await SharedSegment.openAsync(name!, { timeoutMs: 5000 });
const ping = SpscRing.attach(seg.buffer, Number(pingOffset), { checkPeer: () => seg.checkPeers() });
const pong = SpscRing.attach(seg.buffer, Number(pongOffset), { checkPeer: () => seg.checkPeers() });
console.log('mapped');

// The data path: poll, copy back, poll. A synchronous loop, bounded by a deadline.
const before = voluntarySwitches();
const deadline = Date.now() + 30_000;
let echoed = 0;
for (let spins = 0; ; spins++) {
  const rec = ping.tryRead();
  if (rec !== undefined) {
    while (!pong.tryWrite(rec)) {
      // the main process reads pong as fast as it writes ping: room comes at once
    }
    echoed++;
    continue;
  }
  if (ping.writeClosed && ping.usedBytes === 0) break;
  if ((spins & 0xfff) === 0 && Date.now() > deadline) break;
}
const switches = voluntarySwitches() - before;
console.log(`peer: echoed ${echoed} records, ${switches} voluntary context switches while spinning`);
pong.closeWrite();
seg.close();

// The same memory as a Plexus transport: a request/reply over shm://.
const bus = await connect(address!, { name: 's14-peer', reconnect: false });
bus.serve('s14.add', (msg) => {
  const { a, b } = msg.json<{ a: number; b: number }>();
  return JSON.stringify({ sum: a + b, pid: process.pid });
});
await bus.flush();
console.log('serving s14.add over shm://');
await bus.closed;
process.exit(0);
