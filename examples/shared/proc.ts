/**
 * Child processes for the examples (shared by s4 and s11): stdout lines echoed with a prefix, waiting for a line,
 * SIGKILL by PID, and a watchdog so a child never outlives its parent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export class Child {
  readonly lines: string[] = [];
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly name: string,
    /** The compiled script to run, e.g. `new URL('./send.js', import.meta.url)`. */
    script: URL,
    args: readonly string[],
  ) {
    this.proc = spawn(process.execPath, [fileURLToPath(script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = once(this.proc, 'exit').then(([code]) => code as number | null);
    for (const [stream, tag] of [
      [this.proc.stdout!, ''],
      [this.proc.stderr!, ' stderr'],
    ] as const) {
      createInterface({ input: stream }).on('line', (line) => {
        console.log(`[${name}${tag}] ${line}`);
        this.lines.push(line);
        for (const w of [...this.waiters]) w();
      });
    }
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  /** The first stdout line matching `re` (waits up to `ms`). */
  waitLine(re: RegExp, ms: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`${this.name}: no line matching ${re} within ${ms} ms`));
      }, ms);
      const check = (): void => {
        const line = this.lines.find((l) => re.test(l));
        if (line === undefined) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(line);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** SIGKILL it (no goodbye) and wait until it is gone. */
  async kill(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) process.kill(this.pid, 'SIGKILL');
    await this.exited;
  }
}

/** In a child: exit when the parent goes away (its stdout pipe closes). */
export function exitWithParent(): void {
  process.stdout.on('error', () => process.exit(1));
  const ppid = process.ppid;
  setInterval(() => {
    try {
      process.kill(ppid, 0);
    } catch {
      process.exit(1);
    }
  }, 500).unref();
}
