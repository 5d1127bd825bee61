/**
 * Fixtures for durable-service tests: an inproc broker on a fresh hub, a temp directory,
 * a service over it that can be restarted, and clients; all closed when the test ends.
 */
import type { TestContext } from 'node:test';
import type { Connection } from '../../src/client/index.js';
import { durable, startDurableService, type DurableClient, type DurableService, type DurableServiceOptions } from '../../src/durable/index.js';
import { Cleanup, startTestBroker, tempDir, type TestBroker } from '../helpers/plexus.js';

export interface DurableFixture {
  readonly cleanup: Cleanup;
  readonly broker: TestBroker;
  readonly dir: string;
  service: DurableService;
  readonly bus: Connection;
  readonly ds: DurableClient;
  /** Close the service (graceful) and start a new one on the same directory. */
  restart(): Promise<void>;
  /** Another client connection with its own helper. */
  client(): Promise<{ bus: Connection; ds: DurableClient }>;
}

export async function durableFixture(
  t: TestContext,
  sweepMs = 50,
  serviceOptions: Partial<Pick<DurableServiceOptions, 'mailboxAccess'>> = {},
): Promise<DurableFixture> {
  const cleanup = new Cleanup(t);
  const broker = await startTestBroker(cleanup, { via: 'inproc' });
  const dir = await tempDir(cleanup, 'plexus-ds-');
  const start = async (): Promise<DurableService> => {
    const svc = await startDurableService({ dir, url: broker.url, connect: { inproc: broker.hub!, timeoutMs: 3000 }, sweepMs, ...serviceOptions });
    cleanup.defer(() => svc.close());
    return svc;
  };
  const service = await start();
  const bus = await broker.connect();
  const f: DurableFixture = {
    cleanup,
    broker,
    dir,
    service,
    bus,
    ds: durable(bus, { timeoutMs: 3000 }),
    async restart() {
      await f.service.close();
      f.service = await start();
    },
    async client() {
      const b = await broker.connect();
      return { bus: b, ds: durable(b, { timeoutMs: 3000 }) };
    },
  };
  return f;
}
