/**
 * The parent side of the `plexus up` demo: spawn each demo process, prefix its output
 * with its name, wait until it says it is ready, and stop every one of them by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ErrorCode, PlexusError } from '../../index.js';
import { paint, type Colour } from '../output.js';

/** One demo process to run. */
export interface DemoRole {
  /** Also the file name under demo/ (`sensor` → sensor.js). */
  readonly name: string;
  readonly url: string;
  readonly token: string;
  readonly colour: Colour;
}

interface Running {
  readonly role: DemoRole;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  exitedAt?: { code: number | null; signal: NodeJS.Signals | null };
}

const NAME_WIDTH = 10;

/** Runs the demo processes and writes their prefixed log. */
export class DemoSupervisor {
  private readonly running: Running[] = [];
  private stopping = false;
  /** Demo processes that exited on their own (a crash, a lost connection). */
  readonly failures: string[] = [];

  constructor(
    private readonly colour: boolean,
    private readonly out: (line: string) => void,
  ) {}

  /** A log line under `name`'s prefix. */
  line(name: string, colour: Colour, text: string): void {
    this.out(`${paint(this.colour, colour, name.padEnd(NAME_WIDTH))} ${paint(this.colour, 'gray', '│')} ${text}`);
  }

  /** PIDs of the demo processes started so far. */
  get pids(): number[] {
    return this.running.map((r) => r.child.pid).filter((p): p is number => p !== undefined);
  }

  /** Spawn one demo process; resolve once it reports ready (or reject within `timeoutMs`). */
  start(role: DemoRole, timeoutMs = 10_000): Promise<void> {
    if (this.stopping) return Promise.reject(new PlexusError(ErrorCode.SHUTTING_DOWN, 'the demo is stopping'));
    const file = fileURLToPath(new URL(`./${role.name}.js`, import.meta.url));
    const child = spawn(process.execPath, [file], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // Its own process group: a Ctrl-C in the terminal reaches `plexus up` alone, which
      // then stops each demo process by PID (and the IPC channel closing stops them if
      // `plexus up` itself dies).
      detached: true,
      env: { ...process.env, PLEXUS_DEMO_URL: role.url, PLEXUS_DEMO_TOKEN: role.token },
    });
    const running: Running = {
      role,
      child,
      exited: new Promise<void>((resolve) => child.once('exit', () => resolve())),
    };
    this.running.push(running);
    this.line(role.name, role.colour, paint(this.colour, 'gray', `started (pid ${child.pid}), connecting to ${role.url}`));
    createInterface({ input: child.stdout! }).on('line', (l) => this.line(role.name, role.colour, l));
    createInterface({ input: child.stderr! }).on('line', (l) => this.line(role.name, 'red', l));
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => done(new PlexusError(ErrorCode.TIMEOUT, `demo process ${role.name} was not ready within ${timeoutMs} ms`)), timeoutMs);
      const onMessage = (m: unknown): void => {
        if ((m as { type?: string } | null)?.type === 'ready') done();
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
        running.exitedAt = { code, signal };
        if (!this.stopping) {
          const why = `exited unexpectedly (${signal ?? `code ${code}`})`;
          this.failures.push(`${role.name} ${why}`);
          this.line(role.name, 'red', why);
        }
        done(new PlexusError(ErrorCode.INTERNAL, `demo process ${role.name} exited before it was ready`));
      };
      const onError = (err: Error): void => done(new PlexusError(ErrorCode.INTERNAL, `cannot start demo process ${role.name}: ${err.message}`));
      let settled = false;
      const done = (err?: PlexusError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('error', onError);
        if (err) reject(err);
        else resolve();
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.once('error', onError);
    });
  }

  /**
   * Stop every demo process by its PID: SIGTERM, then SIGKILL for any still alive after
   * `graceMs`. Resolves once all have exited.
   */
  async stopAll(graceMs = 2000): Promise<void> {
    this.stopping = true;
    const alive = this.running.filter((r) => r.child.exitCode === null && r.child.signalCode === null);
    for (const r of alive) {
      if (r.child.pid !== undefined) {
        try {
          process.kill(r.child.pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
    }
    const all = Promise.all(alive.map((r) => r.exited));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = await Promise.race([all.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs)))]);
    clearTimeout(timer);
    if (late) {
      for (const r of alive) {
        if (r.child.exitCode === null && r.child.signalCode === null && r.child.pid !== undefined) {
          try {
            process.kill(r.child.pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
      await Promise.race([all, new Promise((r) => setTimeout(r, 1000).unref())]);
    }
    for (const r of alive) this.line(r.role.name, r.role.colour, paint(this.colour, 'gray', `stopped (pid ${r.child.pid})`));
  }
}
