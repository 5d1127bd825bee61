/**
 * Runs the Python interop CLI (interop/python/plexus_cli.py) as a child process for the
 * interop tests. Each stdout line is `<event> <json>`; the child is SIGKILLed by its PID
 * when the test ends. A missing python3 is an error, never a skip: the interop claim is
 * only proven when the Python side actually runs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Cleanup } from '../helpers/plexus.js';
import { waitFor, within } from '../helpers/wait.js';

/** The interop/python directory (tests run from dist/test/interop). */
export const PYTHON_DIR = fileURLToPath(new URL('../../../interop/python/', import.meta.url));
/** docs/protocol-vectors.json. */
export const VECTORS_FILE = fileURLToPath(new URL('../../../docs/protocol-vectors.json', import.meta.url));
/** The interpreter; PYTHON overrides it. */
export const PYTHON = process.env['PYTHON'] ?? 'python3';

/** `python3 --version`, or an error that says python3 is required. */
export function pythonVersion(): string {
  const r = spawnSync(PYTHON, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error || r.status !== 0) {
    throw new Error(`the Python interop tests need ${PYTHON} (3.11+) on PATH: ${r.error?.message ?? r.stderr}`);
  }
  return `${r.stdout}${r.stderr}`.trim();
}

/** One event line printed by the CLI. */
export interface PyEvent {
  readonly event: string;
  readonly data: Record<string, unknown>;
}

/** A running Python child. */
export interface PyProcess {
  readonly pid: number;
  readonly events: PyEvent[];
  /** Wait for the first event named `event` after the `skip` earlier ones. */
  next(event: string, ms: number, skip?: number): Promise<Record<string, unknown>>;
  /** Wait for the process to exit; returns its exit code. */
  exit(ms: number): Promise<number | null>;
  readonly stderr: () => string;
}

/** Start `python3 <script> ...args` in interop/python. */
export function runPython(cleanup: Cleanup, script: string, args: readonly string[]): PyProcess {
  const child = spawn(PYTHON, ['-u', script, ...args], { cwd: PYTHON_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
  // A missing interpreter is reported here (and fails the test), not as an unhandled 'error'.
  child.on('error', () => {});
  if (child.pid === undefined) throw new Error(`could not start ${PYTHON} ${script}: the interop tests need ${PYTHON} (3.11+) on PATH`);
  const pid = child.pid;
  const events: PyEvent[] = [];
  let stdout = '';
  let stderr = '';
  let code: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (c) => {
      code = c;
      resolve(c);
    }),
  );
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
    let i: number;
    while ((i = stdout.indexOf('\n')) >= 0) {
      const line = stdout.slice(0, i);
      stdout = stdout.slice(i + 1);
      const space = line.indexOf(' ');
      const event = space < 0 ? line : line.slice(0, space);
      let data: Record<string, unknown> = { line };
      try {
        if (space >= 0) data = JSON.parse(line.slice(space + 1)) as Record<string, unknown>;
      } catch {
        // Not an event line (e.g. the vectors summary): keep the raw text.
      }
      events.push({ event, data });
    }
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  cleanup.defer(async () => {
    if (code === undefined) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
      await within(exited, 5000, `python ${pid} exit`);
    }
  });
  const describe = (): string => `events: ${JSON.stringify(events)}; stderr: ${stderr}`;
  return {
    pid,
    events,
    stderr: () => stderr,
    async next(event, ms, skip = 0) {
      const find = (): PyEvent | undefined => events.filter((e) => e.event === event)[skip];
      try {
        await waitFor(() => find() !== undefined || code !== undefined, ms, `python event ${event}`);
      } catch (err) {
        throw new Error(`${(err as Error).message}; ${describe()}`, { cause: err });
      }
      const found = find();
      if (!found) throw new Error(`python exited (${code}) before "${event}"; ${describe()}`);
      return found.data;
    },
    async exit(ms) {
      try {
        return await within(exited, ms, `python ${script} exit`);
      } catch (err) {
        throw new Error(`${(err as Error).message}; ${describe()}`, { cause: err });
      }
    },
  };
}
