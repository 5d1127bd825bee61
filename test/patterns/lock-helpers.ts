/**
 * Fixture for coordination tests that involve other processes: a TCP broker on
 * loopback, a durable service (KV + coordination) in this process that can be
 * restarted, a client, and child processes stopped by PID when the test ends.
 */
import type { TestContext } from 'node:test';
import type { Connection } from '../../src/client/index.js';
import { startDurableService, type DurableService } from '../../src/durable/index.js';
import { spawnNode, type TestChild } from '../helpers/child.js';
import { Cleanup, startTestBroker, tempDir, type TestBroker } from '../helpers/plexus.js';

export interface CoordFixture {
  readonly cleanup: Cleanup;
  readonly broker: TestBroker;
  readonly dir: string;
  readonly bus: Connection;
  service: DurableService;
  restart(): Promise<void>;
  /** Start `lock-child.js` with `args` (after the broker URL). */
  child(...args: string[]): Promise<TestChild>;
  /** Another client connection. */
  client(): Promise<Connection>;
}

const childScript = new URL('./fixtures/lock-child.js', import.meta.url);

export async function coordFixture(t: TestContext): Promise<CoordFixture> {
  const cleanup = new Cleanup(t);
  const broker = await startTestBroker(cleanup);
  const dir = await tempDir(cleanup, 'plexus-coord-');
  const start = async (): Promise<DurableService> => {
    const svc = await startDurableService({ dir, url: broker.url, connect: { timeoutMs: 3000 } });
    cleanup.defer(() => svc.close());
    return svc;
  };
  const f: CoordFixture = {
    cleanup,
    broker,
    dir,
    bus: await broker.connect(),
    service: await start(),
    async restart() {
      await f.service.close();
      f.service = await start();
    },
    child: (...args) => spawnNode(cleanup, childScript, [broker.url, ...args]),
    client: () => broker.connect(),
  };
  return f;
}

/** A broker, and a durable service in a child process that can be SIGKILLed and restarted on the same directory. */
export interface KillableService {
  readonly cleanup: Cleanup;
  readonly broker: TestBroker;
  service: TestChild;
  /** SIGKILL the service (nothing is flushed), run `whileDown`, start a new one on the same directory. */
  crashAndRestart(whileDown?: () => Promise<void>): Promise<void>;
}

const serviceScript = new URL('../durable/fixtures/service-child.js', import.meta.url);

export async function killableService(t: TestContext): Promise<KillableService> {
  const cleanup = new Cleanup(t);
  const broker = await startTestBroker(cleanup, { via: 'tcp' });
  const dir = await tempDir(cleanup, 'plexus-coord-crash-');
  const start = async (): Promise<TestChild> => {
    const c = await spawnNode(cleanup, serviceScript, [broker.url, dir]);
    await c.waitLine(/^ready$/, 10_000);
    return c;
  };
  const k: KillableService = {
    cleanup,
    broker,
    service: await start(),
    async crashAndRestart(whileDown) {
      await k.service.kill();
      await whileDown?.();
      k.service = await start();
    },
  };
  return k;
}
