/**
 * Conformance targets: where the same test bodies run. Each test gets a fresh target
 * (embedded: a broker on a temp Unix socket; NATS: the shared server on loopback) and a
 * fresh subject prefix, so tests sharing one NATS server never see each other's traffic.
 */
import { connect as tcpConnect } from 'node:net';
import { randomUUID } from 'node:crypto';
import { connectBus, type Backend, type Bus, type ConnectOptions } from '../../src/index.js';
import { join } from 'node:path';
import { startBroker } from '../../src/server/index.js';
import { Cleanup, tempDir } from '../helpers/plexus.js';

/** A live target for one test. */
export interface TargetSession {
  /** Connect a client; it is closed when the test ends. */
  connect(options?: ConnectOptions): Promise<Bus>;
  /** A subject prefix no other test uses (`conf.<uuid>`). */
  readonly prefix: string;
  /** A queue / mailbox / bucket / lock name no other test uses (`c<hex>`). */
  readonly name: string;
}

export interface Target {
  readonly backend: Backend;
  open(cleanup: Cleanup): Promise<TargetSession>;
}

/** A session on `url`: fresh names, clients closed when the test ends. */
export function session(cleanup: Cleanup, url: string): TargetSession {
  const id = randomUUID().replaceAll('-', '');
  return {
    prefix: `conf.${id}`,
    name: `c${id.slice(0, 24)}`,
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
    // The broker with its embedded durable service, as `plexus broker` runs it.
    const dir = await tempDir(cleanup, 'plexus-conf-');
    const server = await startBroker({ listen: [`unix://${join(dir, 'b.sock')}`], durable: { dir: join(dir, 'data') } });
    cleanup.defer(() => server.close({ drainMs: 200 }));
    return session(cleanup, server.urls[0]!);
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
export function probe(host: string, port: number, ms: number, server = 'nats-server'): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (why: string): void => {
      sock.destroy();
      reject(new Error(`${server} is not reachable at ${host}:${port} (${why}): start it (CI starts it in .ci/run); its conformance tests fail rather than skip`));
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
