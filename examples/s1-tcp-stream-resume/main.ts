/**
 * S1 — a TCP byte stream between two processes that survives a network interruption.
 *
 * This process runs the broker on tcp://127.0.0.1:<random port> and spawns a receiver
 * and a sender process. Once the receiver has read about a third of the data, it
 * "interrupts the network": the broker is closed (every connection drops) and a new one
 * is started on the same port a moment later. Both clients reconnect by themselves and
 * the stream resumes from byte offsets. At the end the two SHA-256 hashes must match.
 *
 * Usage: node dist/examples/s1-tcp-stream-resume/main.js [total bytes]   (default 32 MiB)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startBroker, type Broker } from '../../src/index.js';

const TOTAL = Number(process.argv[2] ?? 32 * 1024 * 1024);
const OUTAGE_MS = 300;
if (!Number.isSafeInteger(TOTAL) || TOTAL < 4 * 1024 * 1024 || TOTAL % 4 !== 0) {
  console.error('usage: main.js [total bytes: a multiple of 4, at least 4 MiB]');
  process.exit(2);
}

/** A child process whose stdout lines we echo (prefixed) and can wait for. */
class Child extends EventEmitter {
  readonly lines: string[] = [];
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;

  constructor(
    readonly name: string,
    script: string,
    args: string[],
  ) {
    super();
    this.proc = spawn(process.execPath, [fileURLToPath(new URL(script, import.meta.url)), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = once(this.proc, 'exit').then(([code]) => code as number | null);
    console.log(`started ${name} pid=${this.proc.pid}`);
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      console.log(`[${name}] ${line}`);
      this.lines.push(line);
      this.emit('line', line);
    });
    createInterface({ input: this.proc.stderr! }).on('line', (line) => console.log(`[${name} stderr] ${line}`));
  }

  /** The first line (already seen or coming) matching `re` and `accept`; rejects after `ms`. */
  waitForLine(re: RegExp, ms: number, accept: (m: RegExpMatchArray) => boolean = () => true): Promise<RegExpMatchArray> {
    const test = (l: string): RegExpMatchArray | undefined => {
      const m = re.exec(l);
      return m && accept(m) ? m : undefined;
    };
    for (const l of this.lines) {
      const m = test(l);
      if (m) return Promise.resolve(m);
    }
    return new Promise((resolve, reject) => {
      const onLine = (l: string): void => {
        const m = test(l);
        if (m) done(undefined, m);
      };
      const onExit = (): void => done(new Error(`${this.name} exited before printing ${re}`));
      const timer = setTimeout(() => done(new Error(`${this.name} did not print ${re} within ${ms} ms`)), ms);
      const done = (err: Error | undefined, m?: RegExpMatchArray): void => {
        clearTimeout(timer);
        this.off('line', onLine);
        this.proc.off('exit', onExit);
        if (err) reject(err);
        else resolve(m!);
      };
      this.on('line', onLine);
      this.proc.once('exit', onExit);
    });
  }

  kill(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }
}

/** `promise`, or a rejection naming `what` after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_r, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

const children: Child[] = [];
// Whatever happens, no child outlives this process.
process.on('exit', () => children.forEach((c) => c.kill()));
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));

let broker: Broker | undefined;
try {
  broker = await startBroker({ listen: ['tcp://127.0.0.1:0'] });
  const url = broker.urls[0]!;
  const port = new URL(url).port;
  console.log(`broker listening on ${url}`);

  const receiver = new Child('receiver', './receiver.js', [url]);
  children.push(receiver);
  await receiver.waitForLine(/^ready$/, 5000);
  const sender = new Child('sender', './sender.js', [url, String(TOTAL)]);
  children.push(sender);

  // Midway: pull the plug on every connection, then come back on the same port.
  const third = await receiver.waitForLine(/^progress (\d+)$/, 10_000, (m) => Number(m[1]) >= TOTAL / 3);
  const at = Number(third[1]);
  console.log(`interrupting the network: receiver has ${at} of ${TOTAL} bytes; closing the broker`);
  await broker.close({ drainMs: 0 });
  broker = undefined;
  await new Promise((r) => setTimeout(r, OUTAGE_MS));
  broker = await startBroker({ listen: [`tcp://127.0.0.1:${port}`] });
  console.log(`network back after ${OUTAGE_MS} ms: new broker on ${broker.urls[0]}`);

  const [sent, received] = await Promise.all([
    sender.waitForLine(/^sent (\d+) bytes sha256 ([0-9a-f]{64})$/, 30_000),
    receiver.waitForLine(/^received (\d+) bytes sha256 ([0-9a-f]{64})$/, 30_000),
  ]);
  const codes = await within(Promise.all([sender.exited, receiver.exited]), 5000, 'children exiting');
  console.log(`sender   sha256 ${sent[2]} (${sent[1]} bytes)`);
  console.log(`receiver sha256 ${received[2]} (${received[1]} bytes)`);
  const reconnected = [sender, receiver].every((c) => c.lines.some((l) => l.startsWith('connection reconnecting')));
  if (sent[1] === String(TOTAL) && received[1] === sent[1] && received[2] === sent[2] && reconnected && codes.every((c) => c === 0)) {
    console.log('OK: no bytes lost or duplicated');
  } else {
    console.log(`FAIL: counts, hashes, reconnects or exit codes differ (exit codes ${codes.join(', ')}, both reconnected: ${reconnected})`);
    process.exitCode = 1;
  }
} catch (err) {
  console.error(`FAIL: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
} finally {
  children.forEach((c) => c.kill());
  await broker?.close({ drainMs: 0 });
}
