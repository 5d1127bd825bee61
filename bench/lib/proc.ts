/**
 * Runner side of the peer protocol: fork compiled peer scripts, exchange messages with
 * bounded waits, and kill every peer by its PID when done — also on error and on exit.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { PeerMessage } from './child.js';

/** Directory of the compiled bench scripts (dist/bench). */
const here = fileURLToPath(new URL('..', import.meta.url));

const live = new Set<Peer>();
let profileDir: string | undefined;
let verbose = false;

/** Write a V8 CPU profile of every peer into `dir` (node --cpu-prof). */
export function setProfileDir(dir: string | undefined): void {
  profileDir = dir;
}

/** Echo peers' stderr as it arrives. */
export function setVerbose(v: boolean): void {
  verbose = v;
}

/** A forked peer process. */
export class Peer {
  readonly child: ChildProcess;
  readonly pid: number;
  private readonly inbox: PeerMessage[] = [];
  private waiter: ((m: PeerMessage | Error) => void) | undefined;
  private stderrTail = '';
  private exitInfo: string | undefined;
  readonly exited: Promise<void>;

  constructor(
    readonly name: string,
    script: string,
    cfg: unknown,
  ) {
    const execArgv = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`] : [];
    this.child = fork(`${here}${script}`, [JSON.stringify(cfg)], { execArgv, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    if (this.child.pid === undefined) throw new Error(`could not start ${name}`);
    this.pid = this.child.pid;
    live.add(this);
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      this.stderrTail = (this.stderrTail + s).slice(-4000);
      if (verbose) process.stderr.write(`[${name}] ${s}`);
    });
    this.child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      if (verbose) process.stderr.write(`[${name}] ${s}`);
    });
    this.child.on('message', (m: PeerMessage) => {
      if (m.t === 'error') return this.deliver(new Error(`${name} failed: ${String(m['message'])}`));
      this.deliver(m);
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        live.delete(this);
        this.exitInfo = `${name} exited (${signal ?? code})${this.stderrTail ? `: ${this.stderrTail.trim()}` : ''}`;
        this.deliver(new Error(this.exitInfo));
        resolve();
      });
    });
  }

  send(msg: PeerMessage): void {
    if (this.child.connected) this.child.send(msg);
  }

  /** Next message of `type`, or reject on error, exit, or after `timeoutMs`. */
  async next(type: string, timeoutMs: number): Promise<PeerMessage> {
    for (;;) {
      const m = await this.nextAny(type, timeoutMs);
      if (m.t === type) return m;
    }
  }

  private nextAny(type: string, timeoutMs: number): Promise<PeerMessage> {
    const m = this.inbox.shift();
    if (m) return Promise.resolve(m);
    if (this.exitInfo) return Promise.reject(new Error(this.exitInfo));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`${this.name}: no '${type}' within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = (x) => {
        clearTimeout(timer);
        this.waiter = undefined;
        if (x instanceof Error) reject(x);
        else resolve(x);
      };
    });
  }

  private deliver(m: PeerMessage | Error): void {
    if (this.waiter) this.waiter(m);
    else if (!(m instanceof Error)) this.inbox.push(m);
  }

  /** Ask the peer to exit (so profiles get written), then SIGKILL its PID after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (!live.has(this)) return;
    this.send({ t: 'exit' });
    const timer = setTimeout(() => this.kill(), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (!live.has(this)) return;
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Start `script` (a path under dist/bench) as a peer and wait for its `ready` message. */
export async function startPeer(name: string, script: string, cfg: unknown, timeoutMs = 15_000): Promise<{ peer: Peer; ready: PeerMessage }> {
  const peer = new Peer(name, script, cfg);
  try {
    const ready = await peer.next('ready', timeoutMs);
    return { peer, ready };
  } catch (err) {
    peer.kill();
    await peer.exited;
    throw err;
  }
}

/** Stop every peer still running (graceful, then SIGKILL by PID). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop()));
}

/** Synchronous last resort at process exit: SIGKILL every remaining peer by PID. */
export function killAllNow(): void {
  for (const p of [...live]) p.kill();
}
