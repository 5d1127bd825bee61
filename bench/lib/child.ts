/**
 * Child-process side of the runner protocol. Every benchmark peer is forked by the
 * runner with an IPC channel: it reports `ready` / `result` / `error` messages and obeys
 * `go` and `exit`. If the runner goes away (IPC disconnect) the peer exits at once, so a
 * crashed runner never leaves peers behind.
 */

/** A message between the runner and a peer. `t` is its type. */
export interface PeerMessage {
  readonly t: string;
  readonly [key: string]: unknown;
}

const queued: PeerMessage[] = [];
const waiters: { type: string; resolve: (m: PeerMessage) => void }[] = [];
const exitHooks: (() => void | Promise<void>)[] = [];
let exiting = false;

/** Send a message to the runner. */
export function report(msg: PeerMessage): void {
  process.send?.(msg);
}

/** Wait for the next message of `type` from the runner. */
export function expect(type: string): Promise<PeerMessage> {
  const i = queued.findIndex((m) => m.t === type);
  if (i >= 0) return Promise.resolve(queued.splice(i, 1)[0]!);
  return new Promise((resolve) => waiters.push({ type, resolve }));
}

/** Run `hook` before the peer exits on the runner's request (close sockets, servers). */
export function onExit(hook: () => void | Promise<void>): void {
  exitHooks.push(hook);
}

/** Exit cleanly (so `--cpu-prof` gets written), running the exit hooks for at most 2 s. */
export async function exit(code = 0): Promise<never> {
  if (!exiting) {
    exiting = true;
    const timer = setTimeout(() => process.exit(code), 2000);
    for (const h of exitHooks.reverse()) {
      try {
        await h();
      } catch {
        // exiting anyway
      }
    }
    clearTimeout(timer);
  }
  process.exit(code);
}

/** The JSON config the runner passes as argv[2]. */
export function config<T>(): T {
  const raw = process.argv[2];
  if (raw === undefined) throw new Error('this is a benchmark peer: the runner passes its config as a JSON argument');
  return JSON.parse(raw) as T;
}

/** Entry point of a peer: wires the protocol and reports a thrown error. */
export function peerMain(main: () => Promise<void>): void {
  process.on('message', (m: PeerMessage) => {
    if (m.t === 'exit') {
      void exit(0);
      return;
    }
    const w = waiters.findIndex((x) => x.type === m.t);
    if (w >= 0) waiters.splice(w, 1)[0]!.resolve(m);
    else queued.push(m);
  });
  process.on('disconnect', () => void exit(0));
  main().catch((err: unknown) => {
    report({ t: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    void exit(1);
  });
}

/** A monotonic clock in seconds. */
export function now(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}
