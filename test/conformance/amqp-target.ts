/** The RabbitMQ conformance target: the shared server on loopback (CI starts it). */
import amqplib from 'amqplib';
import { probe, session, type Target } from './targets.js';

export const AMQP_HOST = '127.0.0.1';
export const AMQP_PORT = 5672;
export const AMQP_URL = `amqp://guest:guest@${AMQP_HOST}:${AMQP_PORT}`;

export const amqpTarget: Target = {
  backend: 'amqp',
  async open(cleanup) {
    try {
      await probe(AMQP_HOST, AMQP_PORT, 1000, 'rabbitmq-server');
    } catch (err) {
      throw new Error(
        `RabbitMQ is not reachable at ${AMQP_HOST}:${AMQP_PORT}: start it (rabbitmq-server -detached); the amqp conformance tests fail rather than skip`,
        { cause: err },
      );
    }
    const s = session(cleanup, AMQP_URL);
    // Queues and mailboxes are durable quorum queues: remove the test's own from the shared server.
    cleanup.defer(async () => {
      const conn = await amqplib.connect(AMQP_URL);
      try {
        const ch = await conn.createChannel();
        for (const q of [`plexus.queue.${s.name}`, `plexus.mailbox.${s.name}`]) await ch.deleteQueue(q);
      } finally {
        await conn.close().catch(() => undefined);
      }
    });
    return s;
  },
};
