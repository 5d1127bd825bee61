/**
 * S5 — message passing between apps on one device, Android-intent style.
 *
 * A broker on a Unix socket in a fresh temp dir; two app processes (Mail, Chat) each
 * declare that they handle `intent.share.image`; a third process (the gallery) shares
 * images without knowing them. This process watches the registry and prints the apps
 * coming and going.
 *
 * Usage: node dist/examples/s5-intents/main.js
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, services, startBroker, type Connection } from '../../src/index.js';

const INTENT = 'intent.share.image';
const dir = await mkdtemp(join(tmpdir(), 'plexus-s5-'));
const url = `unix://${join(dir, 'bus.sock')}`;
const broker = await startBroker({ listen: [url] });
const children: ChildProcess[] = [];
let watcher: Connection | undefined;

/** Start `script` with the broker's address; its output is relayed line by line. */
function start(script: string, args: string[]): ChildProcess {
  const child = spawn(process.execPath, [fileURLToPath(new URL(script, import.meta.url)), ...args], {
    env: { ...process.env, PLEXUS_URL: url },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  console.log(`started ${script} ${args.join(' ')} pid=${child.pid}`);
  child.stdout!.setEncoding('utf8').on('data', (s: string) => process.stdout.write(s));
  return child;
}

/** Bounded wait for a child to exit. */
async function exited(child: ChildProcess, ms: number): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return code;
}

try {
  watcher = await connect(url, { name: 'launcher' });
  const events = services(watcher).watch(INTENT);
  const log = (async () => {
    for await (const ev of events) console.log(`registry: ${ev.type} ${ev.instance.id}${ev.reason ? ` (${ev.reason})` : ''}`);
  })();

  const apps = [start('app.js', ['mail', 'Mail']), start('app.js', ['chat', 'Chat'])];
  // Wait (bounded) until both apps are registered.
  const deadline = Date.now() + 10_000;
  while ((await services(watcher).list(INTENT)).length < 2) {
    if (Date.now() > deadline) throw new Error('the apps did not register within 10 s');
    await new Promise((r) => setTimeout(r, 20));
  }

  const gallery = start('gallery.js', []);
  const code = await exited(gallery, 15_000);
  if (code !== 0) throw new Error(`gallery exited with ${code}`);

  for (const app of apps) app.kill('SIGTERM');
  for (const app of apps) await exited(app, 5000);
  // Both apps are gone from the registry.
  while ((await services(watcher).list(INTENT)).length > 0) {
    if (Date.now() > deadline + 10_000) throw new Error('the apps did not leave the registry');
    await new Promise((r) => setTimeout(r, 20));
  }
  events.close();
  await log;
  console.log('done');
} finally {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await watcher?.close();
  await broker.close({ drainMs: 200 });
  await rm(dir, { recursive: true, force: true });
}
