/**
 * A private redis-server for tests that stop and restart Redis: loopback, a port the
 * kernel picked, its own data dir with the append-only file fsynced on every write
 * (`--appendonly yes --appendfsync always`), stopped by PID when the test ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { Cleanup, tempDir } from '../../helpers/plexus.js';
import { waitFor, within } from '../../helpers/wait.js';
import { probe } from '../../conformance/targets.js';

export interface PrivateRedis {
  readonly url: string;
  readonly port: number;
  /** SIGTERM the server and wait for it to exit. */
  stop(): Promise<void>;
  /** Start it again on the same port and data dir. */
  start(): Promise<void>;
}

/** A loopback port nothing listens on right now. */
async function unusedPort(): Promise<number> {
  const probeServer = createServer().listen(0, '127.0.0.1');
  await once(probeServer, 'listening');
  const { port } = probeServer.address() as AddressInfo;
  probeServer.close();
  await once(probeServer, 'close');
  return port;
}

export async function startPrivateRedis(cleanup: Cleanup): Promise<PrivateRedis> {
  const dir = await tempDir(cleanup, 'plexus-redis-');
  const port = await unusedPort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always'];
  let child: ChildProcess | undefined;

  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c?.pid || c.exitCode !== null) return;
    const exited = once(c, 'exit');
    process.kill(c.pid, 'SIGTERM');
    await within(exited, 10_000, 'redis-server to exit');
  };
  const start = async (): Promise<void> => {
    const c = spawn('redis-server', args, { stdio: 'ignore' });
    child = c;
    let spawnError: Error | undefined;
    c.once('error', (err) => (spawnError = err));
    await waitFor(
      async () => {
        if (spawnError) throw new Error(`could not start redis-server (is it on PATH?): ${spawnError.message}`);
        if (c.exitCode !== null) throw new Error(`redis-server exited with ${c.exitCode}`);
        return probe('127.0.0.1', port, 200).then(
          () => true,
          () => false,
        );
      },
      10_000,
      `redis-server on 127.0.0.1:${port}`,
    );
  };

  cleanup.defer(stop);
  await start();
  return { url: `redis://127.0.0.1:${port}`, port, stop, start };
}
