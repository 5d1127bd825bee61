/**
 * A private nats-server for tests that need their own configuration (users,
 * permissions) or must stop and restart the server: loopback, a free port, its own
 * config file in a temp dir, stopped by PID when the test ends. `nats-server` must be on
 * PATH (or set NATS_SERVER_BIN).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Cleanup, tempDir } from '../helpers/plexus.js';
import { waitFor, within } from '../helpers/wait.js';
import { probe } from './targets.js';

export interface PrivateNats {
  readonly url: string;
  /** Stop the server (SIGTERM) and wait for it to exit. */
  stop(): Promise<void>;
  /** Start it again on the same port with the same config. */
  start(): Promise<void>;
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** Start nats-server with `config` (nats-server config syntax, without listen/port). */
export async function startPrivateNats(cleanup: Cleanup, config = ''): Promise<PrivateNats> {
  const dir = await tempDir(cleanup, 'plexus-nats-');
  const port = await freePort();
  const file = join(dir, 'nats.conf');
  await writeFile(file, `listen: "127.0.0.1:${port}"\n${config}\n`);
  const bin = process.env['NATS_SERVER_BIN'] ?? 'nats-server';
  let child: ChildProcess | undefined;

  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.pid === undefined) return;
    const exited = new Promise((r) => c.once('exit', r));
    process.kill(c.pid, 'SIGTERM');
    await within(exited, 5000, `${bin} to exit`);
  };
  const start = async (): Promise<void> => {
    const c = spawn(bin, ['-c', file], { stdio: 'ignore' });
    child = c;
    let failed: Error | undefined;
    c.once('error', (err) => (failed = new Error(`could not start ${bin} (is nats-server installed and on PATH?): ${err.message}`)));
    await waitFor(
      async () => {
        if (failed) throw failed;
        if (c.exitCode !== null) throw new Error(`${bin} exited with ${c.exitCode} (config: ${file})`);
        return probe('127.0.0.1', port, 200).then(
          () => true,
          () => false,
        );
      },
      10_000,
      `${bin} on 127.0.0.1:${port}`,
    );
  };

  cleanup.defer(stop);
  await start();
  return { url: `nats://127.0.0.1:${port}`, stop, start };
}
