/**
 * S1 receiver: accepts one stream on `s1.bytes`, hashes every byte it reads, prints
 * progress while reading and `received <n> bytes sha256 <hex>` at EOF.
 *
 * Usage: node receiver.js <broker url>
 */
import { createHash } from 'node:crypto';
import { connect } from '../../src/index.js';
import { SUBJECT, exitWithParent } from './data.js';

exitWithParent(60_000);

const url = process.argv[2];
if (!url) throw new Error('usage: receiver.js <broker url>');

const PROGRESS_EVERY = 2 * 1024 * 1024;
let bytes = 0;

// Reconnect quickly: the whole point is to ride out the broker going away.
const bus = await connect(url, { name: 's1-receiver', reconnectDelayMs: 20, maxReconnectDelayMs: 100 });
bus.on('status', (s) => console.log(`connection ${s} (at byte ${bytes})`));

const listener = bus.acceptStreams(SUBJECT);
await bus.flush(); // the broker now knows we accept streams
console.log('ready');

for await (const stream of listener) {
  listener.close(); // one stream is all this example needs
  const hash = createHash('sha256');
  let nextReport = PROGRESS_EVERY;
  for await (const chunk of stream) {
    hash.update(chunk);
    bytes += chunk.length;
    if (bytes >= nextReport) {
      console.log(`progress ${bytes}`);
      nextReport += PROGRESS_EVERY;
    }
  }
  console.log(`received ${bytes} bytes sha256 ${hash.digest('hex')}`);
}
await bus.close();
