import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { spawn, connectParent, type SpawnedChild, type SpawnTransport } from '../../src/spawn/index.js';
import { shmAvailability } from '../../src/local/index.js';
import { Cleanup } from '../helpers/plexus.js';
import { spawnNode } from '../helpers/child.js';
import { rejection, waitFor, within } from '../helpers/wait.js';

const childModule = new URL('../fixtures/spawn-child.js', import.meta.url);
const transports: SpawnTransport[] = shmAvailability().available ? ['stdio', 'ipc', 'shm'] : ['stdio', 'ipc'];

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function start(cleanup: Cleanup, transport: SpawnTransport, args: string[] = []): Promise<SpawnedChild> {
  const child = await spawn(childModule, { transport, args, readyTimeoutMs: 15_000 });
  cleanup.defer(() => child.kill().catch(() => undefined));
  return child;
}

for (const transport of transports) {
  test(`spawn over ${transport}: request/reply, a stream, stderr lines; close() ends the child gracefully`, async (t) => {
    const cleanup = new Cleanup(t);
    const child = await start(cleanup, transport);
    assert.equal(child.transport, transport);
    assert.equal((await child.request('child.pid', undefined, { timeout: 5000 })).string(), String(child.pid));
    const big = Buffer.alloc(200_000, 7);
    assert.ok(Buffer.from((await child.request('child.echo', big, { timeout: 5000 })).data).equals(big), 'a 200 kB payload both ways');
    const s = await child.connection.stream('child.upper');
    await s.write('hello ');
    await s.write('child');
    await s.end();
    let text = '';
    for (let c = await s.read(); c !== null; c = await s.read()) text += Buffer.from(c).toString();
    assert.equal(text, 'HELLO CHILD');
    await waitFor(() => child.stderrTail().some((l) => l.includes('starting')), 5000, 'the stderr line');
    if (transport === 'stdio') {
      await waitFor(() => child.stderrTail().some((l) => l.includes('this goes to stderr')), 5000, 'console.log redirected');
    }
    const exit = await within(child.close(), 10_000, 'close');
    assert.deepEqual(exit, { exitCode: 0, signal: null, crashed: false });
    assert.equal(alive(child.pid), false);
  });

  test(`spawn over ${transport}: a crash rejects pending requests with PLEXUS_ERR_CHILD_EXITED (code, stderr tail) and is reported`, async (t) => {
    const cleanup = new Cleanup(t);
    const child = await start(cleanup, transport);
    const exits: unknown[] = [];
    child.on('exit', (e) => exits.push(e));
    const hanging = child.request('child.hang', undefined, { timeout: 20_000 });
    const err = (await rejection(child.request('child.crash', undefined, { timeout: 20_000 }), 10_000)) as {
      code: string;
      details: { exitCode: number; stderrTail: string[]; pid: number };
    };
    assert.equal(err.code, 'PLEXUS_ERR_CHILD_EXITED');
    assert.equal(err.details.exitCode, 3);
    assert.equal(err.details.pid, child.pid);
    assert.ok(err.details.stderrTail.includes('about to crash'));
    assert.equal(((await rejection(hanging, 5000)) as { code: string }).code, 'PLEXUS_ERR_CHILD_EXITED');
    assert.deepEqual(exits, [{ exitCode: 3, signal: null, crashed: true }]);
    assert.equal(((await rejection(child.request('child.pid'), 1000)) as { code: string }).code, 'PLEXUS_ERR_CHILD_EXITED', 'after the exit too');
  });
}

test('kill() kills the child by PID; a pending request rejects with PLEXUS_ERR_CHILD_EXITED', async (t) => {
  const cleanup = new Cleanup(t);
  const child = await start(cleanup, 'stdio');
  const hanging = child.request('child.hang', undefined, { timeout: 20_000 });
  const exit = await child.kill();
  assert.deepEqual(exit, { exitCode: null, signal: 'SIGKILL', crashed: false });
  assert.equal(alive(child.pid), false);
  const err = (await rejection(hanging, 5000)) as { code: string; details: { signal: string } };
  assert.equal(err.code, 'PLEXUS_ERR_CHILD_EXITED');
  assert.equal(err.details.signal, 'SIGKILL');
});

test('a command (not a module) with args: here this Node running the child module', async (t) => {
  const cleanup = new Cleanup(t);
  const child = await spawn(process.execPath, { args: [fileURLToPath(childModule)], transport: 'stdio' });
  cleanup.defer(() => child.kill().catch(() => undefined));
  assert.equal((await child.request('child.pid', undefined, { timeout: 5000 })).string(), String(child.pid));
  assert.equal((await child.close()).exitCode, 0);
});

test('a parent that exits without closing kills its children (by PID, from its exit hook)', async (t) => {
  const cleanup = new Cleanup(t);
  for (const mode of ['stdio', 'ipc']) {
    const parent = await spawnNode(cleanup, new URL('../fixtures/spawn-parent-exits.js', import.meta.url), [mode]);
    const line = await parent.waitLine(/^child=\d+$/, 15_000);
    const pid = Number(line.slice('child='.length));
    cleanup.defer(() => {
      if (alive(pid)) process.kill(pid, 'SIGKILL');
    });
    await waitFor(() => !alive(pid), 5000, `${mode}: the child of the exited parent gone`);
  }
});

test('a child that exits before connecting: spawn() rejects with PLEXUS_ERR_CHILD_EXITED and its stderr', async () => {
  const err = (await rejection(spawn(childModule, { args: ['die-early'] }), 15_000)) as { code: string; details: { exitCode: number; stderrTail: string[] } };
  assert.equal(err.code, 'PLEXUS_ERR_CHILD_EXITED');
  assert.equal(err.details.exitCode, 4);
  assert.ok(err.details.stderrTail.includes('fatal: could not do the thing'));
});

test('a child that never connects: PLEXUS_ERR_TIMEOUT after readyTimeoutMs, and it is killed', async () => {
  const pids: number[] = [];
  const err = (await rejection(
    spawn(childModule, { args: ['never-ready'], readyTimeoutMs: 1500, onStderr: (l) => pids.push(Number(/child (\d+)/.exec(l)?.[1] ?? 0)) }),
    15_000,
  )) as { code: string };
  assert.equal(err.code, 'PLEXUS_ERR_TIMEOUT');
  const pid = pids.find((p) => p > 0)!;
  assert.ok(pid > 0, 'the child said who it was');
  await waitFor(() => !alive(pid), 5000, 'the child killed');
});

test('spawn errors: no such command (CONNECT_FAILED), a bad transport (INVALID_ARGUMENT), an aborted start', async () => {
  assert.equal(((await rejection(spawn('/nonexistent/plexus-child'), 5000)) as { code: string }).code, 'PLEXUS_ERR_CONNECT_FAILED');
  assert.equal(
    ((await rejection(spawn(childModule, { transport: 'tcp' as SpawnTransport }), 5000)) as { code: string }).code,
    'PLEXUS_ERR_INVALID_ARGUMENT',
  );
  const ac = new AbortController();
  const pending = spawn(childModule, { args: ['never-ready'], signal: ac.signal });
  setTimeout(() => ac.abort(new Error('changed my mind')), 300);
  assert.equal(((await rejection(pending, 10_000)) as Error).message, 'changed my mind');
});

test("transport 'shm' without the addon: PLEXUS_ERR_SHM_UNAVAILABLE before anything starts", async () => {
  const saved = process.env.PLEXUS_SHM_ADDON;
  process.env.PLEXUS_SHM_ADDON = '/nonexistent/plexus_shm.node';
  try {
    const err = (await rejection(spawn(childModule, { transport: 'shm' }), 5000)) as { code: string; message: string };
    assert.equal(err.code, 'PLEXUS_ERR_SHM_UNAVAILABLE');
    assert.match(err.message, /use 'stdio' or 'ipc'/);
  } finally {
    if (saved === undefined) delete process.env.PLEXUS_SHM_ADDON;
    else process.env.PLEXUS_SHM_ADDON = saved;
  }
});

test('connectParent() outside a spawned child: PLEXUS_ERR_CONFIG', async () => {
  assert.equal(process.env.PLEXUS_PARENT, undefined);
  await assert.rejects(connectParent(), { code: 'PLEXUS_ERR_CONFIG' });
});
