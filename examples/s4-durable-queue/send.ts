/**
 * The producer (RabbitMQ tutorial's `send.js`): `node send.js <url> <message>`. Returns
 * once the broker's durable service has stored the message (the publisher ack).
 */
import { connectBus, queue } from '../../src/index.js';
import { QUEUE_OPTIONS } from './settings.js';

const [url, ...words] = process.argv.slice(2);
if (!url) {
  console.error('usage: send.js <url> [message]');
  process.exit(2);
}
const message = words.join(' ') || 'Hello World!';
const bus = await connectBus(url, { timeoutMs: 5000 });
try {
  const { seq } = await queue(bus, 'hello', QUEUE_OPTIONS).send(message);
  console.log(` [x] Sent '${message}' (stored as #${seq})`);
} finally {
  await bus.close();
}
