/**
 * Runs a compiled example (`dist/examples/<name>/main.js`) as a child process with a
 * time limit, and makes sure nothing it started survives the test: the example's PID
 * and every `pid=<n>` it printed for its own children are killed in `t.after`.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

/** What an example run produced. */
export interface ExampleRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout split into lines. */
  readonly lines: readonly string[];
}

/** Run `examples/<name>/main.ts` (compiled) with `args`; reject if it runs longer than `timeoutMs`. */
export async function runExample(t: TestContext, name: string, args: readonly string[] = [], timeoutMs = 20_000): Promise<ExampleRun> {
  const main = fileURLToPath(new URL(`../../examples/${name}/main.js`, import.meta.url));
  const proc = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  proc.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = once(proc, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;

  t.after(async () => {
    for (const pid of [proc.pid, ...childPids(stdout)]) {
      if (pid !== undefined && isAlive(pid)) process.kill(pid, 'SIGKILL');
    }
    if (proc.exitCode === null && proc.signalCode === null) await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
  });

  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`example ${name} did not exit within ${timeoutMs} ms\n--- stdout\n${stdout}\n--- stderr\n${stderr}`)),
      timeoutMs,
    );
  });
  try {
    const [code, signal] = await Promise.race([exited, expired]);
    return { code, signal, stdout, stderr, lines: stdout.split('\n').filter((l) => l !== '') };
  } finally {
    clearTimeout(timer);
  }
}

/** The PIDs an example reported for the processes it spawned (`... pid=<n>`). */
export function childPids(stdout: string): number[] {
  return [...stdout.matchAll(/\bpid=(\d+)\b/g)].map((m) => Number(m[1]));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Output of a run, for assertion messages. */
export function describeRun(run: ExampleRun): string {
  return `exit ${run.code} ${run.signal ?? ''}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`;
}
