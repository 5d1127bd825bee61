/**
 * Fixtures for broker/client integration tests: real brokers on a fresh address (tcp
 * port 0, a Unix socket in a fresh temp dir, or inproc with a new hub), clients that are
 * closed when the test ends, and a cleanup stack that runs last-in first-out with every
 * step bounded so teardown can never hang the run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { startBroker, type Broker, type BrokerOptions } from '../../src/broker/index.js';
import { connect, type Connection, type ConnectOptions } from '../../src/client/index.js';
import { InprocHub } from '../../src/transports/index.js';
import { WaitTimeoutError, sleep, within } from './wait.js';

/** Where a test broker listens. */
export type Via = 'tcp' | 'unix' | 'inproc';

/** Cleanup steps for one test, run LIFO in `t.after`, each bounded by `stepMs`. */
export class Cleanup {
  private readonly steps: (() => unknown)[] = [];

  constructor(t: TestContext, stepMs = 5000) {
    t.after(async () => {
      while (this.steps.length > 0) {
        const step = this.steps.pop()!;
        try {
          await within(Promise.resolve().then(step), stepMs, 'cleanup step');
        } catch {
          // Best effort: one stuck step must not keep the others from running.
        }
      }
    });
  }

  /** Run `fn` when the test ends (after steps registered later). */
  defer(fn: () => unknown): void {
    this.steps.push(fn);
  }
}

/** A temp dir removed when the test ends. */
export async function tempDir(cleanup: Cleanup, prefix = 'plexus-it-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanup.defer(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A broker started for one test, and how to reach it. */
export interface TestBroker {
  readonly broker: Broker;
  /** The address it listens on (real port). */
  readonly url: string;
  /** The hub for inproc brokers. */
  readonly hub: InprocHub | undefined;
  /** Connect a client that is closed when the test ends. */
  connect(options?: ConnectOptions): Promise<Connection>;
}

/** Options for {@link startTestBroker}. */
export type TestBrokerOptions = Omit<BrokerOptions, 'listen'> & {
  /** @default 'tcp' */
  readonly via?: Via;
  /** Listen on exactly this address (e.g. to restart on the same port / path). */
  readonly listen?: readonly string[];
};

/** Connect a client whose `close()` is registered on `cleanup`. */
export async function connectClient(
  cleanup: Cleanup,
  url: string | readonly string[],
  options: ConnectOptions = {},
): Promise<Connection> {
  const conn = await connect(url, { timeoutMs: 3000, ...options });
  cleanup.defer(() => conn.close());
  return conn;
}

/** Start a broker on a fresh address; it is closed when the test ends. */
export async function startTestBroker(cleanup: Cleanup, options: TestBrokerOptions = {}): Promise<TestBroker> {
  const via = options.via ?? 'tcp';
  let hub = options.inproc;
  let listen = options.listen;
  if (!listen) {
    if (via === 'tcp') listen = ['tcp://127.0.0.1:0'];
    else if (via === 'unix') listen = [`unix://${join(await tempDir(cleanup), 'b.sock')}`];
    else {
      hub ??= new InprocHub();
      listen = [`inproc://broker-${Math.random().toString(36).slice(2)}`];
    }
  }
  const { via: _via, listen: _listen, ...rest } = options;
  const broker = await startBroker({ ...rest, listen, ...(hub ? { inproc: hub } : {}) });
  cleanup.defer(() => broker.close({ drainMs: 200 }));
  const url = broker.urls[0]!;
  return {
    broker,
    url,
    hub,
    connect: (o: ConnectOptions = {}) => connectClient(cleanup, url, { ...(hub ? { inproc: hub } : {}), ...o }),
  };
}

/**
 * Take the next `n` items from an async iterable without ending it (no `return()`), so
 * a test can read a subscription in several batches. Bounded by `ms`.
 */
export async function take<T>(iterable: AsyncIterable<T>, n: number, ms: number, what = `${n} messages`): Promise<T[]> {
  const out: T[] = [];
  const it = iterable[Symbol.asyncIterator]();
  const run = (async () => {
    while (out.length < n) {
      const r = await it.next();
      if (r.done) throw new Error(`iteration ended after ${out.length} of ${n} items`);
      out.push(r.value);
    }
  })();
  try {
    await within(run, ms, what);
  } catch (err) {
    if (err instanceof WaitTimeoutError) throw new WaitTimeoutError(`${err.message} (had ${out.length})`);
    throw err;
  }
  return out;
}

/** Let queued I/O run a little (for "nothing else arrives" checks). */
export function settle(ms = 50): Promise<void> {
  return sleep(ms);
}
