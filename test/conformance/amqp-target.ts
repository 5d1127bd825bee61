/** The RabbitMQ conformance target: the shared server on loopback (CI starts it). */
import { probe, session, type Target } from './targets.js';

export const AMQP_HOST = '127.0.0.1';
export const AMQP_PORT = 5672;
export const AMQP_URL = `amqp://guest:guest@${AMQP_HOST}:${AMQP_PORT}`;

export const amqpTarget: Target = {
  backend: 'amqp',
  async open(cleanup) {
    try {
      await probe(AMQP_HOST, AMQP_PORT, 1000);
    } catch (err) {
      throw new Error(
        `RabbitMQ is not reachable at ${AMQP_HOST}:${AMQP_PORT}: start it (rabbitmq-server -detached); the amqp conformance tests fail rather than skip`,
        { cause: err },
      );
    }
    return session(cleanup, AMQP_URL);
  },
};
