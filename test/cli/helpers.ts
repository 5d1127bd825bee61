/**
 * Running the real `plexus` binary from tests: spawn `node dist/src/cli/main.js ...`
 * against a broker the test starts on a temp Unix socket and TCP port 0. Every process
 * is killed by PID after the test; every wait is bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startBroker, type Broker, type BrokerOptions } from '../../src/index.js';
import { withTimeout } from '../helpers/timeout.js';

/** The compiled CLI entry point. */
export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** A temp dir removed after the test. */
export async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'plexus-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A broker on a temp Unix socket and TCP port 0, closed after the test. */
export async function testBroker(t: TestContext, options: Partial<BrokerOptions> = {}): Promise<{ broker: Broker; unix: string; tcp: string; dir: string }> {
  const dir = await tempDir(t);
  const broker = await startBroker({ listen: [`unix://${join(dir, 'b.sock')}`, 'tcp://127.0.0.1:0'], ...options });
  t.after(() => broker.close({ drainMs: 200 }));
  const unix = broker.urls.find((u) => u.startsWith('unix:'))!;
  const tcp = broker.urls.find((u) => u.startsWith('tcp:'))!;
  return { broker, unix, tcp, dir };
}

/** A running CLI process and what it has printed so far. */
export interface CliRun {
  readonly child: ChildProcess;
  readonly pid: number;
  stdout(): string;
  stderr(): string;
  /** Settles with the exit code (or the signal) once the process is gone. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Start `plexus ...args`. The environment is the test's plus NO_COLOR and a private
 * XDG_RUNTIME_DIR (so the per-user default socket is never the real one), plus `env`.
 */
export function startCli(t: TestContext, args: readonly string[], env: Record<string, string | undefined> = {}, input?: string): CliRun {
  // A private data dir per run: brokers started by the CLI never share (or lock) the real one.
  const dataDir = mkdtempSync(join(tmpdir(), 'plexus-cli-data-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const child = spawn(process.execPath, [CLI, ...args], {
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', PLEXUS_URL: undefined, PLEXUS_DATA_DIR: dataDir, XDG_RUNTIME_DIR: join(tmpdir(), `plexus-cli-nowhere-${process.pid}`), ...env },
  });
  if (child.pid === undefined) throw new Error(`could not start ${CLI}`);
  const pid = child.pid;
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  if (input !== undefined) child.stdin!.end(input);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  return { child, pid, stdout: () => out, stderr: () => err, exited };
}

/** Run `plexus ...args` to completion (bounded by `ms`). */
export async function runCli(
  t: TestContext,
  args: readonly string[],
  env: Record<string, string | undefined> = {},
  options: { ms?: number; input?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = startCli(t, args, env, options.input);
  const { code } = await withTimeout(run.exited, options.ms ?? 15_000, `plexus ${args.join(' ')}`);
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

/** Wait until the process has printed something matching `pattern` on `stream`. */
export async function waitForOutput(run: CliRun, stream: 'stdout' | 'stderr', pattern: RegExp, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pattern.test(run[stream]())) {
    if (run.child.exitCode !== null || run.child.signalCode !== null) {
      throw new Error(`process exited (${run.child.exitCode ?? run.child.signalCode}) before printing ${pattern}\nstdout: ${run.stdout()}\nstderr: ${run.stderr()}`);
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${pattern} on ${stream}\nstdout: ${run.stdout()}\nstderr: ${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Whether a process with this PID still exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
