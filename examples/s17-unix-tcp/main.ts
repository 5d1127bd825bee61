/**
 * S17 — a TCP and Unix-socket server/client.
 *
 * One broker listens on a Unix socket (in a fresh temp directory) and on
 * tcp://127.0.0.1:<random port>, with token auth so every connection has a name. A
 * server process connects over the Unix socket and serves `time.now` and `echo`; a
 * client process connects over TCP and calls them. Each side prints who the broker says
 * the other is; this process prints the broker's view of both connections.
 *
 * Usage: node dist/examples/s17-unix-tcp/main.js
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startBroker, type Broker } from '../../src/index.js';

/** A child process whose stdout lines we echo (prefixed) and can wait for. */
class Child extends EventEmitter {
  readonly lines: string[] = [];
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;

  constructor(
    readonly name: string,
    script: string,
    args: string[],
    env: Record<string, string>,
  ) {
    super();
    this.proc = spawn(process.execPath, [fileURLToPath(new URL(script, import.meta.url)), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
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

  /** Resolves once the child has printed `line`; rejects on exit or after `ms`. */
  waitForLine(line: string, ms: number): Promise<void> {
    if (this.lines.includes(line)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onLine = (l: string): void => {
        if (l === line) done();
      };
      const onExit = (): void => done(new Error(`${this.name} exited before printing ${JSON.stringify(line)}`));
      const timer = setTimeout(() => done(new Error(`${this.name} did not print ${JSON.stringify(line)} within ${ms} ms`)), ms);
      const done = (err?: Error): void => {
        clearTimeout(timer);
        this.off('line', onLine);
        this.proc.off('exit', onExit);
        if (err) reject(err);
        else resolve();
      };
      this.on('line', onLine);
      this.proc.once('exit', onExit);
    });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
  }
}

/** `promise`, or a rejection naming `what` after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_r, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

const children: Child[] = [];
const dir = mkdtempSync(join(tmpdir(), 'plexus-s17-'));
process.on('exit', () => {
  children.forEach((c) => c.kill());
  rmSync(dir, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));

// Fresh secrets for this run; each token authenticates as its user.
const serverToken = randomBytes(18).toString('base64url');
const clientToken = randomBytes(18).toString('base64url');

let broker: Broker | undefined;
try {
  broker = await startBroker({
    listen: [`unix://${join(dir, 'broker.sock')}`, 'tcp://127.0.0.1:0'],
    auth: {
      users: [
        { user: 'time-service', token: serverToken },
        { user: 'tcp-client', token: clientToken },
      ],
    },
  });
  const [unixUrl, tcpUrl] = broker.urls as [string, string];
  console.log(`broker listening on ${unixUrl} and ${tcpUrl}`);

  const server = new Child('server', './server.js', [unixUrl], { PLEXUS_TOKEN: serverToken });
  children.push(server);
  await server.waitForLine('ready', 5000);
  for (const c of broker.status().clients) console.log(`broker: ${c.identity} connected over ${c.transport}`);

  const client = new Child('client', './client.js', [tcpUrl], { PLEXUS_TOKEN: clientToken });
  children.push(client);
  const clientCode = await within(client.exited, 10_000, 'the client finishing');
  console.log(`client exited with code ${clientCode}`);

  server.kill('SIGTERM');
  const serverCode = await within(server.exited, 5000, 'the server stopping');
  console.log(`server exited with code ${serverCode}`);
  if (clientCode === 0 && serverCode === 0) console.log('OK');
  else {
    console.log('FAIL');
    process.exitCode = 1;
  }
} catch (err) {
  console.error(`FAIL: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
} finally {
  children.forEach((c) => c.kill());
  await broker?.close({ drainMs: 0 });
}
