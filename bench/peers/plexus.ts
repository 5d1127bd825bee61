/** Plexus adapters: pub/sub and request/reply through a broker in its own process. */
import { connect } from '../../src/index.js';
import { ECHO_SUBJECT, type OnMessage, type Publisher, type Requester, type Responder, type Subscriber } from './types.js';

export async function plexusPublisher(url: string, subject: string): Promise<Publisher> {
  const bus = await connect(url, { name: 'bench-pub' });
  return {
    async publishAll(payload, count) {
      for (let i = 0; i < count; i++) {
        if (!bus.isWritable) await bus.writable();
        bus.publish(subject, payload);
      }
      await bus.flush(60_000);
    },
    close: () => bus.close(),
  };
}

export async function plexusSubscriber(url: string, subject: string, onMessage: OnMessage): Promise<Subscriber> {
  const bus = await connect(url, { name: 'bench-sub' });
  bus.subscribe(subject, { callback: (m) => onMessage(m.data.length) });
  await bus.flush(); // the broker has the subscription before anyone publishes
  return { close: () => bus.close() };
}

export async function plexusResponder(url: string): Promise<Responder> {
  const bus = await connect(url, { name: 'bench-responder' });
  bus.serve(ECHO_SUBJECT, (m) => m.data);
  await bus.flush();
  return { address: url, close: () => bus.close() };
}

export async function plexusRequester(url: string): Promise<Requester> {
  const bus = await connect(url, { name: 'bench-requester' });
  return {
    call: async (payload) => (await bus.request(ECHO_SUBJECT, payload, { timeout: 10_000 })).data.length,
    close: () => bus.close(),
  };
}
