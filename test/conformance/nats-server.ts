/**
 * A private nats-server for tests that need their own configuration (users,
 * permissions): loopback, a free port, its own config file in a temp dir, stopped by PID
 * when the test ends. `nats-server` must be on PATH (or set NATS_SERVER_BIN).
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Cleanup, tempDir } from '../helpers/plexus.js';
import { waitFor } from '../helpers/wait.js';
import { probe } from './targets.js';

export interface PrivateNats {
  readonly url: string;
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** Start nats-server with `config` (nats-server config syntax, without listen/port). */
export async function startPrivateNats(cleanup: Cleanup, config: string): Promise<PrivateNats> {
  const dir = await tempDir(cleanup, 'plexus-nats-');
  const port = await freePort();
  const file = join(dir, 'nats.conf');
  await writeFile(file, `listen: "127.0.0.1:${port}"\n${config}\n`);
  const bin = process.env['NATS_SERVER_BIN'] ?? 'nats-server';
  const child = spawn(bin, ['-c', file], { stdio: 'ignore' });
  let failed: Error | undefined;
  child.once('error', (err) => (failed = new Error(`could not start ${bin} (is nats-server installed and on PATH?): ${err.message}`)));
  cleanup.defer(async () => {
    if (child.exitCode !== null || child.pid === undefined) return;
    const exited = new Promise((r) => child.once('exit', r));
    process.kill(child.pid, 'SIGTERM');
    await exited;
  });
  await waitFor(
    async () => {
      if (failed) throw failed;
      if (child.exitCode !== null) throw new Error(`${bin} exited with ${child.exitCode} (config: ${file})`);
      return probe('127.0.0.1', port, 200).then(
        () => true,
        () => false,
      );
    },
    10_000,
    `${bin} on 127.0.0.1:${port}`,
  );
  return { url: `nats://127.0.0.1:${port}` };
}
