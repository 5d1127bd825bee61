/**
 * S6 — a session store shared by two service instances (the "Redis sessions" case).
 *
 * A broker runs with durable messaging on a temp directory. Two service processes add
 * items to the same user's session in the `sessions` KV bucket at the same time, using
 * compare-and-set on the revision so neither overwrites the other; every write renews a
 * 3 s TTL. This process watches `session.>` and prints every change with its
 * revision; once the services stop writing, the session expires and the watcher sees
 * the `expire`.
 *
 * Usage: node dist/examples/s6-session-store/main.js [itemsPerService]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, kv, startBroker, type KvChange } from '../../src/index.js';

const items = Number(process.argv[2] ?? 5);
const dir = mkdtempSync(join(tmpdir(), 'plexus-s6-'));
const broker = await startBroker({ listen: ['tcp://127.0.0.1:0'], durable: { dir: join(dir, 'data') } });
const url = broker.urls[0]!;
console.log(`broker on ${url} with durable data in a temp dir`);
const bus = await connect(url, { name: 'watcher' });
const sessions = kv(bus, 'sessions', { ttlMs: 3000 });
await sessions.info(); // creates the bucket

const ac = new AbortController();
const changes: KvChange[] = [];
let expired: () => void = () => undefined;
const sawExpire = new Promise<void>((resolve) => (expired = resolve));
const watching = (async () => {
  for await (const c of sessions.watch('session.>', { signal: ac.signal, includeCurrent: false })) {
    changes.push(c);
    const cart = c.op === 'put' ? ` cart=${c.json<{ cart: string[] }>().cart.length}` : '';
    console.log(`[watch] rev ${c.revision} ${c.op} ${c.key}${cart}`);
    if (c.op === 'expire') expired();
  }
})();

const run = async (name: string): Promise<number | null> => {
  const proc = spawn(process.execPath, [fileURLToPath(new URL('./service.js', import.meta.url)), url, name, 'alice', String(items)], { stdio: ['ignore', 'pipe', 'inherit'] });
  console.log(`started service ${name} pid=${proc.pid}`);
  proc.stdout.setEncoding('utf8').on('data', (s: string) => {
    for (const line of s.split('\n').filter(Boolean)) console.log(`[${name}] ${line}`);
  });
  const [code] = (await once(proc, 'exit')) as [number | null];
  return code;
};

let ok: boolean;
try {
  const codes = await Promise.all([run('A'), run('B')]);
  console.log(`services exited with codes ${codes.join(', ')}`);
  const e = await sessions.get('session.alice');
  const cart = e?.json<{ cart: string[] }>().cart ?? [];
  console.log(`session.alice: ${cart.length} items in the cart (expected ${2 * items}), revision ${e?.revision}`);
  ok = codes.every((c) => c === 0) && cart.length === 2 * items && new Set(cart).size === cart.length;
  const timer = setTimeout(() => expired(), 10_000);
  await sawExpire;
  clearTimeout(timer);
  const gone = (await sessions.get('session.alice')) === undefined;
  console.log(`after the TTL: session.alice ${gone ? 'is gone' : 'is still there'}; the watcher saw ${changes.length} changes`);
  ok &&= gone && changes.at(-1)?.op === 'expire' && changes.length === 2 * items + 2;
} finally {
  ac.abort();
  await watching.catch(() => undefined);
  await bus.close();
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
}
console.log(ok ? 'OK' : 'FAILED');
process.exit(ok ? 0 : 1);
