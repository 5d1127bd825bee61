/**
 * S1 sender: opens a stream to `s1.bytes` and writes `<total>` bytes of a deterministic
 * pattern, awaiting every write (end-to-end backpressure), then ends the stream and
 * prints `sent <n> bytes sha256 <hex>` once the receiver has consumed everything.
 *
 * Usage: node sender.js <broker url> <total bytes>
 */
import { createHash } from 'node:crypto';
import { connect } from '../../src/index.js';
import { PatternSource, SUBJECT, WRITE_BYTES, exitWithParent } from './data.js';

exitWithParent(60_000);

const url = process.argv[2];
const total = Number(process.argv[3]);
if (!url || !Number.isSafeInteger(total) || total <= 0 || total % 4 !== 0) {
  throw new Error('usage: sender.js <broker url> <total bytes, a multiple of 4>');
}

let written = 0;
const bus = await connect(url, { name: 's1-sender', reconnectDelayMs: 20, maxReconnectDelayMs: 100 });
bus.on('status', (s) => console.log(`connection ${s} (at byte ${written})`));

const stream = await bus.stream(SUBJECT, { timeout: 5000 });
const source = new PatternSource();
const hash = createHash('sha256');
while (written < total) {
  const chunk = source.next(Math.min(WRITE_BYTES, total - written));
  hash.update(chunk);
  await stream.write(chunk); // resolves once inside the receiver's credit window
  written += chunk.length;
}
await stream.end(); // resolves once the receiver has read every byte
console.log(`sent ${written} bytes sha256 ${hash.digest('hex')}`);
await bus.close();
