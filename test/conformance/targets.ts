/**
 * Conformance targets: where the same test bodies run. Each test gets a fresh target
 * (embedded: a broker on a temp Unix socket; NATS: the shared server on loopback) and a
 * fresh subject prefix, so tests sharing one NATS server never see each other's traffic.
 */
import { connect as tcpConnect } from 'node:net';
import { randomUUID } from 'node:crypto';
import { connectBus, type Backend, type Bus, type ConnectOptions } from '../../src/index.js';
import { Cleanup, startTestBroker } from '../helpers/plexus.js';

/** A live target for one test. */
export interface TargetSession {
  /** Connect a client; it is closed when the test ends. */
  connect(options?: ConnectOptions): Promise<Bus>;
  /** A subject prefix no other test uses (`conf.<uuid>`). */
  readonly prefix: string;
}

export interface Target {
  readonly backend: Backend;
  open(cleanup: Cleanup): Promise<TargetSession>;
}

function session(cleanup: Cleanup, url: string): TargetSession {
  return {
    prefix: `conf.${randomUUID().replaceAll('-', '')}`,
    async connect(options: ConnectOptions = {}) {
      const bus = await connectBus(url, { timeoutMs: 3000, ...options });
      cleanup.defer(() => bus.close());
      return bus;
    },
  };
}

export const embeddedTarget: Target = {
  backend: 'embedded',
  async open(cleanup) {
    const { url } = await startTestBroker(cleanup, { via: 'unix' });
    return session(cleanup, url);
  },
};

/** NATS on loopback; CI starts it (.ci/run). */
export const NATS_HOST = '127.0.0.1';
export const NATS_PORT = 4222;

export const natsTarget: Target = {
  backend: 'nats',
  async open(cleanup) {
    await probe(NATS_HOST, NATS_PORT, 1000);
    return session(cleanup, `nats://${NATS_HOST}:${NATS_PORT}`);
  },
};

/** A short TCP probe: a clear failure (not a skip) when the server is down. */
export function probe(host: string, port: number, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (why: string): void => {
      sock.destroy();
      reject(new Error(`NATS is not reachable at ${host}:${port} (${why}): start nats-server (CI starts it in .ci/run); the NATS conformance tests fail rather than skip`));
    };
    const sock = tcpConnect({ host, port });
    sock.setTimeout(ms, () => fail(`no answer within ${ms} ms`));
    sock.once('error', (err) => fail(err.message));
    sock.once('connect', () => {
      sock.destroy();
      resolve();
    });
  });
}
