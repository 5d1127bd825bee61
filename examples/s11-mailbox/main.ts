/**
 * S11 — mailboxes: durable messages to a named recipient that survive everyone's death.
 *
 * The broker (with users alice and bob, and the embedded durable service) runs as a
 * child process so it can be killed. Then:
 *  1. bob's sender leaves three messages in alice's mailbox while alice is offline, and
 *     is SIGKILLed afterwards;
 *  2. bob tries to read alice's mailbox: refused (PLEXUS_ERR_PERMISSION_DENIED);
 *  3. alice's reader reads the first message and is SIGKILLed before acknowledging;
 *  4. the broker is SIGKILLed and started again on the same port and data directory;
 *  5. alice's new reader gets all three messages — the first one again (delivery 2) —
 *     each showing bob as the sender, which the broker stamped and bob could not forge.
 *
 * Usage: node dist/examples/s11-mailbox/main.js
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Child } from '../shared/proc.js';

const dir = await mkdtemp(join(tmpdir(), 'plexus-s11-'));
const children: Child[] = [];
const run = (name: string, script: string, args: string[]): Child => {
  const c = new Child(name, new URL(script, import.meta.url), args);
  children.push(c);
  console.log(`started ${name} pid=${c.pid}`);
  return c;
};
let port = 0;
const startBroker = async (): Promise<{ broker: Child; url: string }> => {
  const broker = run('broker', './broker.js', [String(port), dir]);
  const url = (await broker.waitLine(/^ready /, 15_000)).slice('ready '.length);
  port = Number(new URL(url).port);
  return { broker, url };
};

let ok: boolean;
try {
  let { broker, url } = await startBroker();
  const messages = ['lunch at noon?', 'the report is in the shared folder', 'call me back'];
  const sender = run('bob sender', './sender.js', [url, 'bob', 'alice', ...messages]);
  await sender.waitLine(/^sent$/, 15_000);
  await sender.kill();
  console.log('killed the sender');

  const snoop = run('bob reader', './reader.js', [url, 'bob', 'alice', '1']);
  await snoop.exited;

  const crashing = run('alice reader', './reader.js', [url, 'alice', 'alice', '3', 'crash']);
  await crashing.waitLine(/^alice read /, 15_000);
  await crashing.kill();
  console.log('killed the reader before it acknowledged');
  await broker.kill();
  console.log('killed the broker');

  ({ broker, url } = await startBroker());
  const reader = run('alice reader', './reader.js', [url, 'alice', 'alice', '3']);
  const code = await reader.exited;
  const read = reader.lines.filter((l) => l.startsWith('alice read '));
  ok =
    code === 0 &&
    snoop.lines.includes("bob may not read alice's mailbox: PLEXUS_ERR_PERMISSION_DENIED") &&
    read.length === 3 &&
    messages.every((m, i) => read[i]?.startsWith(`alice read '${m}' from bob`)) &&
    read[0]!.endsWith('(delivery 2)');
} finally {
  for (const c of children) await c.kill();
  await rm(dir, { recursive: true, force: true });
}
console.log(ok ? 'OK' : 'FAILED');
process.exitCode = ok ? 0 : 1;
