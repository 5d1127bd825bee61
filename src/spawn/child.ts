/**
 * The parent's handle on a child started by `spawn()`: its connection, its exit, its
 * stderr, and the ways to stop it.
 */
import type { ChildProcess } from 'node:child_process';
import type { Broker } from '../broker/index.js';
import type { Connection, Message, Payload, RequestOptions } from '../client/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import type { SpawnTransport } from './protocol.js';

/** How long a request that lost its responder waits to learn whether the child died. */
const EXIT_AFTER_CLOSE_MS = 1000;

/** Children still running: killed by PID if this process exits first (one 'exit' hook for all). */
const live = new Set<SpawnedChild>();
let exitHookInstalled = false;
function killLiveChildren(): void {
  for (const c of live) c.kill('SIGKILL').catch(() => undefined);
}

/** How a child ended. */
export interface ChildExit {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** True unless it exited with code 0 or was stopped through this handle. */
  readonly crashed: boolean;
}

/** Events of a SpawnedChild. */
export interface SpawnedChildEvents {
  /** One line the child wrote on stderr (without the newline). */
  stderr: (line: string) => void;
  /** The child ended (also when it crashed); `exited` settles with the same value. */
  exit: (exit: ChildExit) => void;
}

/** Pieces spawn() assembled, handed over to the handle. */
export interface SpawnedChildParts {
  readonly process: ChildProcess;
  readonly pid: number;
  readonly transport: SpawnTransport;
  readonly connection: Connection;
  readonly broker: Broker;
  readonly stderrTailLines: number;
  readonly killGraceMs: number;
}

/**
 * A running child and a connected Plexus client to it. Use `request()` for calls that
 * must fail with PLEXUS_ERR_CHILD_EXITED when the child dies; `connection` for
 * everything else (subscribe, publish, streams, serve). The parent's private broker sits
 * between the two; nothing listens outside this process (except `shm://`'s socket,
 * which only the same user can reach).
 */
export class SpawnedChild {
  readonly pid: number;
  readonly transport: SpawnTransport;
  readonly connection: Connection;
  readonly process: ChildProcess;
  /** Settles (never rejects) when the child has exited. */
  readonly exited: Promise<ChildExit>;
  private exitInfo: ChildExit | undefined;
  private readonly tail: string[] = [];
  private readonly listeners: { [K in keyof SpawnedChildEvents]: Set<SpawnedChildEvents[K]> } = { stderr: new Set(), exit: new Set() };
  private readonly pending = new Set<(err: PlexusError) => void>();
  private stopping = false;
  private readonly parts: SpawnedChildParts;

  /** @internal spawn() builds it. */
  constructor(parts: SpawnedChildParts) {
    this.parts = parts;
    this.pid = parts.pid;
    this.transport = parts.transport;
    this.connection = parts.connection;
    this.process = parts.process;
    // A parent that exits takes its children along (by PID), whatever the reason.
    live.add(this);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', killLiveChildren);
    }
    this.exited = new Promise<ChildExit>((resolve) => {
      const done = (exitCode: number | null, signal: NodeJS.Signals | null): void => {
        if (this.exitInfo) return;
        this.exitInfo = { exitCode, signal, crashed: !this.stopping && !(exitCode === 0 && signal === null) };
        live.delete(this);
        const err = this.exitError();
        for (const reject of this.pending) reject(err);
        this.pending.clear();
        for (const fn of this.listeners.exit) fn(this.exitInfo);
        resolve(this.exitInfo);
        void this.release();
      };
      if (parts.process.exitCode !== null || parts.process.signalCode !== null) done(parts.process.exitCode, parts.process.signalCode);
      else parts.process.once('exit', done);
    });
  }

  /** @internal Called by spawn() for each stderr line. */
  pushStderr(line: string): void {
    this.tail.push(line);
    if (this.tail.length > this.parts.stderrTailLines) this.tail.shift();
    for (const fn of this.listeners.stderr) fn(line);
  }

  /** How the child ended, once it has. */
  get exit(): ChildExit | undefined {
    return this.exitInfo;
  }

  /** The last lines the child wrote on stderr. */
  stderrTail(): string[] {
    return [...this.tail];
  }

  /** Listen to `stderr` lines or the `exit`; returns a function that removes the listener. */
  on<K extends keyof SpawnedChildEvents>(event: K, listener: SpawnedChildEvents[K]): () => void {
    const set = this.listeners[event] as Set<SpawnedChildEvents[K]>;
    set.add(listener);
    return () => set.delete(listener);
  }

  /**
   * A request to the child. Like `connection.request`, but rejects with
   * PLEXUS_ERR_CHILD_EXITED (exit code, signal and stderr tail in `details`) if the child
   * exits before answering, or has already exited.
   */
  request(subject: string, data?: Payload, options?: RequestOptions): Promise<Message> {
    if (this.exitInfo) return Promise.reject(this.exitError());
    return new Promise<Message>((resolve, reject) => {
      const onExit = (err: PlexusError): void => reject(err);
      this.pending.add(onExit);
      this.connection.request(subject, data, options).then(
        (m) => {
          this.pending.delete(onExit);
          resolve(m);
        },
        (err: unknown) => {
          // The child's connection usually closes a moment before its exit is reported:
          // its responder "went away" because it died. Give the exit a moment to show.
          if (!(err instanceof PlexusError) || err.code !== ErrorCode.RESPONDER_GONE) {
            this.pending.delete(onExit);
            return reject(err);
          }
          const timer = setTimeout(() => {
            this.pending.delete(onExit);
            reject(err);
          }, EXIT_AFTER_CLOSE_MS);
          void this.exited.then(() => clearTimeout(timer));
        },
      );
    });
  }

  /**
   * Kill the child by PID with `signal` (default SIGKILL) and wait for it to exit (at most
   * 5 s, then PLEXUS_ERR_TIMEOUT).
   */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<ChildExit> {
    this.stopping = true;
    this.signalChild(signal);
    return this.waitExit(5000, `child ${this.pid} did not exit after ${signal}`);
  }

  /**
   * Stop gracefully: close the connection and the parent's broker, so the child sees its
   * connection end (a child using connectParent() exits then); SIGKILL it if it has not
   * exited after `graceMs` (default the spawn option `killGraceMs`).
   */
  async close(graceMs = this.parts.killGraceMs): Promise<ChildExit> {
    if (this.exitInfo) return this.exitInfo;
    this.stopping = true;
    await this.release();
    const timer = setTimeout(() => this.signalChild('SIGKILL'), graceMs);
    try {
      return await this.waitExit(graceMs + 5000, `child ${this.pid} did not exit after SIGKILL`);
    } finally {
      clearTimeout(timer);
    }
  }

  private async waitExit(ms: number, what: string): Promise<ChildExit> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_r, reject) => (timer = setTimeout(() => reject(new PlexusError(ErrorCode.TIMEOUT, what)), ms)));
    try {
      return await Promise.race([this.exited, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private signalChild(signal: NodeJS.Signals): void {
    if (this.exitInfo || this.process.exitCode !== null || this.process.signalCode !== null) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      // Already gone: the exit event follows.
    }
  }

  /** Close the parent's side (connection, then the private broker). Idempotent. */
  private released: Promise<void> | undefined;
  private release(): Promise<void> {
    this.released ??= (async () => {
      await this.connection.close().catch(() => undefined);
      await this.parts.broker.close({ drainMs: 0 }).catch(() => undefined);
    })();
    return this.released;
  }

  /** @internal The PLEXUS_ERR_CHILD_EXITED error for this child's exit (after it exited). */
  exitError(): PlexusError {
    const e = this.exitInfo!;
    const how = e.signal ? `was killed by ${e.signal}` : `exited with code ${e.exitCode}`;
    const tail = this.stderrTail();
    return new PlexusError(ErrorCode.CHILD_EXITED, `child ${this.pid} ${how}${tail.length ? `; stderr: ${tail.slice(-3).join(' | ')}` : ''}`, {
      details: { pid: this.pid, exitCode: e.exitCode, signal: e.signal, stderrTail: tail },
    });
  }
}
