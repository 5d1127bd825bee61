/** `ioredis` pub/sub adapters against redis on 127.0.0.1:6379. */
import { Redis } from 'ioredis';
import type { OnMessage, Publisher, Subscriber } from './types.js';

export const REDIS_HOST = '127.0.0.1';
export const REDIS_PORT = 6379;

/**
 * ioredis has no writable() either; its backpressure is the reply stream: at most
 * MAX_OUTSTANDING_BYTES of PUBLISH commands are waiting for their replies at any time.
 * Auto-pipelining batches the commands of one tick into one socket write.
 */
const MAX_OUTSTANDING_BYTES = 1024 * 1024;

function open(name: string): Redis {
  return new Redis({
    host: REDIS_HOST,
    port: REDIS_PORT,
    connectionName: name,
    enableAutoPipelining: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    lazyConnect: true,
  });
}

export async function redisPublisher(channel: string): Promise<Publisher> {
  const r = open('bench-pub');
  await r.connect();
  const payloadOf = (p: Uint8Array): Buffer => Buffer.from(p.buffer, p.byteOffset, p.byteLength);
  return {
    async publishAll(payload, count) {
      const buf = payloadOf(payload);
      const maxOutstanding = Math.max(16, Math.floor(MAX_OUTSTANDING_BYTES / (buf.length + 40)));
      let outstanding = 0;
      let wake: (() => void) | undefined;
      let failure: unknown;
      const settle = (): void => {
        outstanding--;
        if (wake && outstanding <= maxOutstanding / 2) {
          const w = wake;
          wake = undefined;
          w();
        }
      };
      const fail = (err: unknown): void => {
        failure ??= err;
        settle();
      };
      for (let i = 0; i < count; i++) {
        if (outstanding >= maxOutstanding) await new Promise<void>((resolve) => (wake = resolve));
        if (failure !== undefined) throw failure;
        outstanding++;
        r.publish(channel, buf).then(settle, fail);
      }
      while (outstanding > 0) await new Promise<void>((resolve) => (wake = resolve));
      if (failure !== undefined) throw failure;
    },
    close: async () => {
      r.disconnect();
    },
  };
}

export async function redisSubscriber(channel: string, onMessage: OnMessage): Promise<Subscriber> {
  const r = open('bench-sub');
  await r.connect();
  r.on('messageBuffer', (_channel: Buffer, message: Buffer) => onMessage(message.length));
  await r.subscribe(channel);
  return {
    close: async () => {
      r.disconnect();
    },
  };
}
