/**
 * Helpers for the local (shared memory) tests: per-test cleanup, unique segment names,
 * forked fixture processes with request/reply over IPC, and worker threads — every one
 * ended in `t.after`, every wait bounded.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { Worker } from 'node:worker_threads';
import { shmAvailability } from '../../src/local/index.js';

/** Cleanup steps for one test, run LIFO in `t.after`, each bounded. */
export class Cleanup {
  private readonly steps: (() => unknown)[] = [];

  constructor(t: TestContext) {
    t.after(async () => {
      while (this.steps.length > 0) {
        const step = this.steps.pop()!;
        try {
          await within(Promise.resolve().then(step), 5000, 'cleanup step');
        } catch {
          // One stuck step must not keep the others from running.
        }
      }
    });
  }

  defer(fn: () => unknown): void {
    this.steps.push(fn);
  }
}

/** Settle with `promise` or reject after `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A segment name no other test (or run) uses. */
export function uniqueName(tag: string): string {
  return `plexus-test-${process.pid}-${tag}-${randomBytes(4).toString('hex')}`;
}

/** Compiled fixture path (tests run from dist/test/local/). */
export function fixture(name: string): string {
  return new URL(`./fixtures/${name}`, import.meta.url).pathname;
}

export const shm = shmAvailability();

/**
 * For tests that need the addon. When it is missing they fail with the reason (it should
 * build wherever g++ and Node's headers are); PLEXUS_SHM_OPTIONAL=1 turns that into a
 * visible skip instead.
 */
export function needsShm(t: TestContext): boolean {
  if (shm.available) return true;
  if (process.env.PLEXUS_SHM_OPTIONAL === '1') {
    t.skip(`shared-memory addon unavailable: ${shm.reason}`);
    return false;
  }
  throw new Error(`shared-memory addon unavailable: ${shm.reason} (set PLEXUS_SHM_OPTIONAL=1 to skip these tests)`);
}

/** A reply from the shm-child fixture. */
export type Reply = Record<string, unknown> & { id?: number; type?: string };

/** A forked fixture process with request/reply. */
export interface Child {
  readonly proc: ChildProcess;
  readonly pid: number;
  /** Resolves when the child sends a message matching `pred`. */
  message(pred: (m: Reply) => boolean, ms?: number): Promise<Reply>;
  /** Sends a command and waits for its reply. */
  request(cmd: Record<string, unknown>, ms?: number): Promise<Reply>;
  /** Sends a command and waits for the child's `waiting` notice for it; the reply comes later. */
  requestLater(cmd: Record<string, unknown>, ms?: number): Promise<{ reply: Promise<Reply> }>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(): Promise<void>;
  readonly stderr: () => string;
}

let nextId = 1;

export function forkChild(cleanup: Cleanup, args: string[], env?: NodeJS.ProcessEnv): Child {
  const proc = fork(fixture('shm-child.js'), args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: env ?? process.env });
  const pid = proc.pid!;
  const messages: Reply[] = [];
  const waiters: { pred: (m: Reply) => boolean; resolve: (m: Reply) => void }[] = [];
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  proc.stdout!.resume();
  proc.on('message', (m: Reply) => {
    const i = waiters.findIndex((w) => w.pred(m));
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(m);
    else messages.push(m);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let dead = false;
  void exited.then(() => (dead = true));
  const message = (pred: (m: Reply) => boolean, ms = 10_000): Promise<Reply> => {
    const i = messages.findIndex(pred);
    if (i >= 0) return Promise.resolve(messages.splice(i, 1)[0]!);
    const p = new Promise<Reply>((resolve) => waiters.push({ pred, resolve }));
    const died = exited.then(({ code, signal }) => {
      throw new Error(`child ${pid} exited (${code ?? signal}) before replying; stderr: ${err}`);
    });
    return within(Promise.race([p, died]), ms, `child ${pid} message`);
  };
  const kill = async (): Promise<void> => {
    if (!dead) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await within(exited, 5000, `child ${pid} exit`);
  };
  cleanup.defer(kill);
  return {
    proc,
    pid,
    message,
    request(cmd, ms) {
      const id = nextId++;
      proc.send({ id, ...cmd });
      return message((m) => m.id === id && m.type === undefined, ms);
    },
    async requestLater(cmd, ms) {
      const id = nextId++;
      const reply = message((m) => m.id === id && m.type === undefined, 30_000);
      reply.catch(() => {}); // observed by the caller; avoid an unhandled rejection meanwhile
      proc.send({ id, ...cmd });
      await message((m) => m.id === id && m.type === 'waiting', ms);
      return { reply };
    },
    exited,
    kill,
    stderr: () => err,
  };
}

/** Starts the ring-worker fixture; resolves with its one result. Terminated in cleanup. */
export function runWorker<T = Record<string, unknown>>(cleanup: Cleanup, data: Record<string, unknown>, ms = 30_000): { worker: Worker; result: Promise<T> } {
  const worker = new Worker(fixture('ring-worker.js'), { workerData: data });
  cleanup.defer(() => worker.terminate());
  const result = within(
    new Promise<T>((resolve, reject) => {
      worker.on('message', (m: T & { type?: string; error?: string }) => {
        if (m.type === 'waiting') return;
        if (m.error !== undefined) reject(new Error(`worker ${String(data.role)}: ${m.error}`));
        else resolve(m);
      });
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`worker ${String(data.role)} exited (${code}) without a result`)));
    }),
    ms,
    `worker ${String(data.role)}`,
  );
  result.catch(() => {});
  return { worker, result };
}

/**
 * Runs `node args…` to completion and collects its stdout; killed by PID in cleanup (and
 * after `ms`) if it is still running.
 */
export function runNode(cleanup: Cleanup, args: string[], options: { env?: NodeJS.ProcessEnv; ms?: number } = {}): Promise<{ out: string; elapsed: number }> {
  const t0 = performance.now();
  const p = spawn(process.execPath, args, { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const pid = p.pid;
  let done = false;
  const kill = (): void => {
    if (done || pid === undefined) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  cleanup.defer(kill);
  const timer = setTimeout(kill, options.ms ?? 15_000);
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    p.once('error', reject);
    p.once('exit', () => {
      done = true;
      clearTimeout(timer);
      resolve({ out, elapsed: performance.now() - t0 });
    });
  });
}

/** A child process holding a lock (or permits) until it is killed. */
export interface Holder {
  readonly pid: number;
  readonly exited: Promise<unknown>;
}

/**
 * Starts fixture `name` (which prints `locked` once it holds what it should) and waits for
 * that; the child is SIGKILLed (by PID) at cleanup if still running.
 */
export function startHolder(cleanup: Cleanup, name: string, args: string[]): Promise<Holder> {
  const p = spawn(process.execPath, [fixture(name), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => p.once('exit', resolve));
  cleanup.defer(async () => {
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await exited;
  });
  return within(
    new Promise((resolve, reject) => {
      p.stdout.setEncoding('utf8').on('data', (s: string) => s.includes('locked') && resolve({ pid: p.pid!, exited }));
      p.once('exit', (code) => reject(new Error(`${name} exited with ${code} before holding`)));
    }),
    10_000,
    `${name} holding`,
  );
}
