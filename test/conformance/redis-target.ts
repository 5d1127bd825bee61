/** The redis:// conformance target: the shared Redis on loopback (fails, not skips, when it is down). */
import { probe, session, type Target } from './targets.js';

export const REDIS_HOST = '127.0.0.1';
export const REDIS_PORT = 6379;

export const redisTarget: Target = {
  backend: 'redis',
  async open(cleanup) {
    await probe(REDIS_HOST, REDIS_PORT, 1000, 'redis-server');
    return session(cleanup, `redis://${REDIS_HOST}:${REDIS_PORT}`);
  },
};
