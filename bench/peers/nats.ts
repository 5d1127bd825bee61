/** `nats` client adapters against nats-server on 127.0.0.1:4222. */
import { connect, type NatsConnection } from 'nats';
import { ECHO_SUBJECT, type OnMessage, type Publisher, type Requester, type Responder, type Subscriber } from './types.js';

export const NATS_ADDRESS = '127.0.0.1:4222';

/**
 * The nats client has no writable()/drain signal for publishes, so the publisher bounds
 * what is in flight with flush() round trips: after every BATCH_BYTES it starts a flush
 * and waits for the one before it, keeping the pipe full but the buffers bounded.
 */
const BATCH_BYTES = 512 * 1024;

function open(name: string): Promise<NatsConnection> {
  return connect({ servers: NATS_ADDRESS, name, noEcho: true, maxReconnectAttempts: 0 });
}

export async function natsPublisher(subject: string): Promise<Publisher> {
  const nc = await open('bench-pub');
  return {
    async publishAll(payload, count) {
      const perMsg = payload.length + subject.length + 16; // "PUB subject len\r\n...\r\n"
      let batch = 0;
      let previous: Promise<void> | undefined;
      for (let i = 0; i < count; i++) {
        nc.publish(subject, payload);
        batch += perMsg;
        if (batch >= BATCH_BYTES) {
          batch = 0;
          const f = nc.flush();
          if (previous) await previous;
          previous = f;
        }
      }
      if (previous) await previous;
      await nc.flush();
    },
    close: () => nc.close(),
  };
}

export async function natsSubscriber(subject: string, onMessage: OnMessage): Promise<Subscriber> {
  const nc = await open('bench-sub');
  nc.subscribe(subject, {
    callback: (err, m) => {
      if (!err) onMessage(m.data.length);
    },
  });
  await nc.flush();
  return { close: () => nc.close() };
}

export async function natsResponder(): Promise<Responder> {
  const nc = await open('bench-responder');
  nc.subscribe(ECHO_SUBJECT, {
    queue: 'bench',
    callback: (err, m) => {
      if (!err) m.respond(m.data);
    },
  });
  await nc.flush();
  return { address: NATS_ADDRESS, close: () => nc.close() };
}

export async function natsRequester(): Promise<Requester> {
  const nc = await open('bench-requester');
  return {
    call: async (payload) => (await nc.request(ECHO_SUBJECT, payload, { timeout: 10_000 })).data.length,
    close: () => nc.close(),
  };
}
