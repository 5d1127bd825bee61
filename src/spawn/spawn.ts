/**
 * `spawn()` (S16): start a child process and get a connected Plexus client to it.
 *
 * The parent runs a private broker (no public listener) and a connection to it; the
 * child's connection arrives over the chosen transport and the broker routes between the
 * two, so request/reply, pub/sub and streams all work as over the network. The child calls
 * `connectParent()`, which reads where to dial from its environment.
 */
import { spawn as spawnProcess, type ChildProcess, type StdioOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startBroker, type Broker } from '../broker/index.js';
import { connect, type Connection } from '../client/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { shmAvailability } from '../local/index.js';
import { InprocHub, channelFromStreams } from '../transports/index.js';
import { SpawnedChild } from './child.js';
import { IpcChannel } from './ipc-channel.js';
import { SpawnEnv, type SpawnTransport } from './protocol.js';

/** Options for spawn(). */
export interface SpawnOptions {
  /**
   * How the connection travels: the child's stdin/stdout (`stdio`, the child must not
   * print on stdout), Node's IPC channel (`ipc`, Node children only), or shared-memory
   * rings (`shm`, needs the native addon; Linux). @default 'stdio'
   */
  readonly transport?: SpawnTransport;
  /** Arguments after the command or module. */
  readonly args?: readonly string[];
  /** Node flags, when starting a module. */
  readonly execArgv?: readonly string[];
  /** Extra environment for the child (merged over this process's). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  /** The child must connect and announce itself within this long, else it is killed. @default 10000 */
  readonly readyTimeoutMs?: number;
  /** `close()` waits this long for the child to exit before SIGKILL. @default 2000 */
  readonly killGraceMs?: number;
  /** stderr lines kept for errors and `stderrTail()`. @default 20 */
  readonly stderrTailLines?: number;
  /** Called for every stderr line from the start (also before spawn() resolves). */
  readonly onStderr?: (line: string) => void;
  /** Name of the parent's connection (in the private broker's status). @default 'spawn-parent' */
  readonly name?: string;
  /** Default timeout of requests to the child. @default 10000 */
  readonly requestTimeoutMs?: number;
  /** Abort the start: the child is killed and spawn() rejects with the reason. */
  readonly signal?: AbortSignal;
}

const MODULE_RE = /\.(m|c)?js$/;

/** A module (file URL or .js/.mjs/.cjs path) runs under this Node; anything else is a command. */
function commandLine(command: string | URL, options: SpawnOptions): { file: string; args: string[] } {
  const args = [...(options.args ?? [])];
  if (command instanceof URL) return { file: process.execPath, args: [...(options.execArgv ?? []), fileURLToPath(command), ...args] };
  if (MODULE_RE.test(command)) return { file: process.execPath, args: [...(options.execArgv ?? []), command, ...args] };
  return { file: command, args };
}

function stdioFor(transport: SpawnTransport): StdioOptions {
  // stderr is always ours (events and the tail in errors); stdout is the wire for stdio.
  if (transport === 'stdio') return ['pipe', 'pipe', 'pipe'];
  if (transport === 'ipc') return ['ignore', 'inherit', 'pipe', 'ipc'];
  return ['ignore', 'inherit', 'pipe'];
}

/**
 * Start `command` (an executable, or a `.js`/`.mjs` module or file URL run with this Node)
 * and resolve once it has connected back with `connectParent()` and announced itself.
 *
 * @throws PLEXUS_ERR_SHM_UNAVAILABLE for `shm` without the native addon (before starting anything),
 *   PLEXUS_ERR_CHILD_EXITED if the child exits before it is ready (stderr tail in `details`),
 *   PLEXUS_ERR_TIMEOUT if it is not ready within `readyTimeoutMs` (it is killed),
 *   PLEXUS_ERR_CONNECT_FAILED if it cannot be started at all (e.g. no such command).
 */
export async function spawn(command: string | URL, options: SpawnOptions = {}): Promise<SpawnedChild> {
  const transport = options.transport ?? 'stdio';
  if (!['stdio', 'ipc', 'shm'].includes(transport)) {
    throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `spawn transport must be 'stdio', 'ipc' or 'shm', not ${JSON.stringify(transport)}`);
  }
  if (transport === 'shm') {
    const shm = shmAvailability();
    if (!shm.available) {
      throw new PlexusError(ErrorCode.SHM_UNAVAILABLE, `spawn with transport 'shm' needs the shared-memory addon: ${shm.reason}; use 'stdio' or 'ipc'`, {
        details: { reason: shm.reason },
      });
    }
  }
  if (options.signal?.aborted) throw options.signal.reason;
  const token = randomBytes(8).toString('hex');
  const hub = new InprocHub();
  const inprocUrl = `inproc://spawn-${token}`;
  const shmUrl = `shm://plexus-spawn-${process.pid}-${token}`;
  let broker: Broker | undefined;
  let conn: Connection | undefined;
  let child: ChildProcess | undefined;
  try {
    broker = await startBroker({ listen: transport === 'shm' ? [inprocUrl, shmUrl] : [inprocUrl], inproc: hub });
    conn = await connect(inprocUrl, {
      inproc: hub,
      reconnect: false,
      name: options.name ?? 'spawn-parent',
      ...(options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
    });
    const readySubject = `plexus.spawn.${token}.ready`;
    let announced!: () => void;
    const ready = new Promise<void>((resolve) => (announced = resolve));
    const readySub = conn.subscribe(readySubject, { callback: () => announced() });
    await conn.flush();

    const { file, args } = commandLine(command, options);
    const parentAddress = transport === 'stdio' ? 'stdio:' : transport === 'ipc' ? 'ipc:' : shmUrl;
    child = spawnProcess(file, args, {
      stdio: stdioFor(transport),
      env: { ...process.env, ...options.env, [SpawnEnv.PARENT]: parentAddress, [SpawnEnv.READY]: readySubject },
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      ...(transport === 'ipc' ? { serialization: 'advanced' as const } : {}),
    });
    const started = await new Promise<Error | undefined>((resolve) => {
      child!.once('spawn', () => resolve(undefined));
      child!.once('error', resolve);
    });
    if (started || child.pid === undefined) {
      throw new PlexusError(ErrorCode.CONNECT_FAILED, `could not start ${file}: ${started?.message ?? 'no pid'}`, { cause: started });
    }
    child.on('error', () => undefined); // later errors (a failed kill) show up as the exit

    const handle = new SpawnedChild({
      process: child,
      pid: child.pid,
      transport,
      connection: conn,
      broker,
      stderrTailLines: options.stderrTailLines ?? 20,
      killGraceMs: options.killGraceMs ?? 2000,
    });
    createInterface({ input: child.stderr! }).on('line', (line) => {
      handle.pushStderr(line);
      options.onStderr?.(line);
    });
    if (transport === 'stdio') broker.accept(channelFromStreams(child.stdout!, child.stdin!, `child ${child.pid}`));
    else if (transport === 'ipc') broker.accept(new IpcChannel(child, `child ${child.pid}`));

    await waitReady(handle, ready, options);
    conn.unsubscribe(readySub);
    return handle;
  } catch (err) {
    if (child && child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await conn?.close().catch(() => undefined);
    await broker?.close({ drainMs: 0 }).catch(() => undefined);
    throw err;
  }
}

/** Ready, or the child's exit (CHILD_EXITED), the deadline (TIMEOUT) or the caller's abort. */
async function waitReady(handle: SpawnedChild, ready: Promise<void>, options: SpawnOptions): Promise<void> {
  const ms = options.readyTimeoutMs ?? 10_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const failures = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new PlexusError(ErrorCode.TIMEOUT, `child ${handle.pid} did not connect within ${ms} ms`, { details: { stderrTail: handle.stderrTail() } })), ms);
    onAbort = () => reject(options.signal!.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    void handle.exited.then(() => reject(handle.exitError()));
  });
  failures.catch(() => undefined); // it may reject after we stopped listening (a later exit)
  try {
    await Promise.race([ready, failures]);
  } finally {
    clearTimeout(timer);
    if (onAbort) options.signal?.removeEventListener('abort', onAbort);
  }
}
