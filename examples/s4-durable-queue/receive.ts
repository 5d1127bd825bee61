/**
 * The consumer (RabbitMQ tutorial's `receive.js` / `worker.js`): `node receive.js <url> [count]`.
 * Takes one message at a time (`prefetch: 1`), "works" 100 ms per dot in it, and
 * acknowledges it only when done — a worker killed mid-message leaves it unacknowledged,
 * so it goes to another worker. Exits after `count` messages (default: runs until killed).
 */
import { connectBus, queue } from '../../src/index.js';
import { exitWithParent } from '../shared/proc.js';
import { QUEUE_OPTIONS } from './settings.js';

const [url, countArg] = process.argv.slice(2);
if (!url) {
  console.error('usage: receive.js <url> [count]');
  process.exit(2);
}
exitWithParent();
const count = countArg === undefined ? Infinity : Number(countArg);
const bus = await connectBus(url, { timeoutMs: 5000 });
console.log(` [*] Waiting for messages in hello (pid=${process.pid})`);
let done = 0;
for await (const msg of queue(bus, 'hello', QUEUE_OPTIONS).consume({ ack: 'manual', prefetch: 1 })) {
  const text = msg.string();
  console.log(` [x] Received '${text}' from ${msg.from} (delivery ${msg.deliveryCount})`);
  const dots = text.split('.').length - 1;
  await new Promise((r) => setTimeout(r, dots * 100));
  await msg.ack();
  console.log(` [x] Done '${text}'`);
  if (++done >= count) break;
}
await bus.close();
