/**
 * Child processes for tests that need a peer to die for real (SIGKILL, no goodbye).
 * Every child is killed by its PID when the test ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Cleanup } from './plexus.js';
import { waitFor, within } from './wait.js';

/** A running Node child with its stdout split into lines. */
export interface TestChild {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly lines: string[];
  /** Wait for a stdout line matching `re`; returns it. */
  waitLine(re: RegExp, ms: number): Promise<string>;
  /** SIGKILL the child (by PID) and wait for it to exit. */
  kill(): Promise<void>;
}

/** Run a compiled fixture script (an absolute path or file URL) with `args`. */
export async function spawnNode(cleanup: Cleanup, script: string | URL, args: string[]): Promise<TestChild> {
  const path = script instanceof URL ? script.pathname : script;
  const child = spawn(process.execPath, [path, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not start ${path}`);
  const pid = child.pid;
  const lines: string[] = [];
  let stderr = '';
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let dead = false;
  child.once('exit', () => (dead = true));
  const kill = async (): Promise<void> => {
    if (!dead) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await within(exited, 5000, `child ${pid} exit`);
  };
  cleanup.defer(kill);
  return {
    child,
    pid,
    lines,
    async waitLine(re, ms) {
      try {
        await waitFor(() => lines.some((l) => re.test(l)) || dead, ms, `child line ${re}`);
      } catch (err) {
        throw new Error(`${(err as Error).message}; stdout: ${lines.join(' | ')}; stderr: ${stderr}`, { cause: err });
      }
      const line = lines.find((l) => re.test(l));
      if (line === undefined) throw new Error(`child exited before printing ${re}; stderr: ${stderr}`);
      return line;
    },
    kill,
  };
}
