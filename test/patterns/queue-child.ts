/**
 * Child processes for the queue fault tests.
 * `node queue-child.js broker <port> <dir>`: a broker with the embedded durable service;
 * prints `ready <url>`, runs until killed.
 * `node queue-child.js consume <url> <queue>`: takes one message, prints
 * `got <seq> <text>`, and never settles it (waits to be killed).
 */
import { connect } from '../../src/client/index.js';
import { queue } from '../../src/patterns/index.js';
import { startBroker } from '../../src/server/index.js';

const [role, a, b] = process.argv.slice(2);
if (role === 'broker' && a !== undefined && b !== undefined) {
  const server = await startBroker({ listen: [`tcp://127.0.0.1:${a}`], durable: { dir: b } });
  console.log(`ready ${server.urls[0]}`);
} else if (role === 'consume' && a !== undefined && b !== undefined) {
  const bus = await connect(a, { timeoutMs: 3000 });
  for await (const m of queue(bus, b).consume({ ack: 'manual', prefetch: 1 })) {
    console.log(`got ${m.seq} ${m.string()}`);
    await new Promise(() => undefined); // "crashes" before acking: the parent SIGKILLs us
  }
} else {
  console.error('usage: queue-child broker <port> <dir> | consume <url> <queue>');
  process.exit(2);
}
