import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { lstat, mkdir, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FramedTransport, dial, listen, type Listener } from '../../src/transports/index.js';
import { FrameType } from '../../src/wire/index.js';
import { FrameCollector } from '../helpers/frames.js';
import { withTimeout } from '../helpers/timeout.js';
import { tempDir } from './cases.js';

const LISTENER = fileURLToPath(new URL('../fixtures/unix-listener.js', import.meta.url));
const posix = process.platform !== 'win32';

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

interface Served {
  readonly listener: Listener;
  /** Every frame any accepted connection received. */
  readonly frames: FrameCollector;
}

/** Listen on `path`, reading every accepted connection into one collector; closed after the test. */
async function listenOn(t: TestContext, path: string, options = {}): Promise<Served> {
  const accepted: FramedTransport[] = [];
  const frames = new FrameCollector();
  const listener = await listen(`unix://${path}`, options, (ch) => {
    const server = new FramedTransport(ch);
    accepted.push(server);
    server.start({ onFrame: (f) => frames.onFrame(f), onClose: () => undefined });
  });
  t.after(async () => {
    accepted.forEach((s) => s.destroy());
    await withTimeout(listener.close(), 3000, 'listener.close()');
  });
  return { listener, frames };
}

/** Dial the listener and see a frame arrive over the socket. */
async function proveAlive(t: TestContext, served: Served): Promise<void> {
  const client = new FramedTransport(await withTimeout(dial(served.listener.url), 3000, 'dial'));
  t.after(() => client.destroy());
  client.start(new FrameCollector());
  const n = served.frames.frames.length;
  client.send({ type: FrameType.PUB, subject: 'alive' });
  await served.frames.waitForFrames(n + 1, 3000, 'frame over the unix socket');
  assert.equal(served.frames.frames[n]!.subject, 'alive');
}

describe('unix transport', { skip: !posix && 'POSIX socket files only', timeout: 20_000 }, () => {
  it('the socket file is mode 0600 after listen, and close() removes it', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, 'p.sock');
    const { listener } = await listenOn(t, path);
    assert.equal(listener.url, `unix://${path}`);
    const st = await lstat(path);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
    await listener.close();
    assert.equal(await exists(path), false, 'socket file removed');
    // Closing twice is harmless.
    await listener.close();
  });

  it('socketMode is honoured', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, 'p.sock');
    await listenOn(t, path, { socketMode: 0o660 });
    assert.equal((await lstat(path)).mode & 0o777, 0o660);
  });

  it('creates missing parent directories (mode 0700)', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, 'a', 'b', 'p.sock');
    const served = await listenOn(t, path);
    assert.equal((await stat(join(dir, 'a', 'b'))).mode & 0o777, 0o700);
    await proveAlive(t, served);
  });

  it('a stale socket file left by a killed listener is replaced', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, 'stale.sock');
    const child = spawn(process.execPath, [LISTENER, `unix://${path}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = once(child, 'exit');
    t.after(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await withTimeout(exited, 5000, 'child exit');
    });
    let out = '';
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    await withTimeout(
      new Promise<void>((resolve) =>
        child.stdout.setEncoding('utf8').on('data', (s: string) => {
          out += s;
          if (out.includes('listening\n')) resolve();
        }),
      ),
      5000,
      'child listening',
    ).catch((e: Error) => {
      throw new Error(`${e.message}; child stderr: ${err}`);
    });
    // While the child lives, its socket is taken.
    await assert.rejects(listen(`unix://${path}`, {}, () => undefined), { code: 'PLEXUS_ERR_CONFIG' });
    child.kill('SIGKILL');
    await withTimeout(exited, 5000, 'child exit');
    assert.ok((await lstat(path)).isSocket(), 'a SIGKILLed listener leaves its socket file behind');
    await assert.rejects(dial(`unix://${path}`), { code: 'PLEXUS_ERR_CONNECT_FAILED' });

    const served = await listenOn(t, path);
    assert.equal((await lstat(path)).mode & 0o777, 0o600);
    await proveAlive(t, served);
  });

  it('a path where another live listener is gives PLEXUS_ERR_CONFIG and leaves it working', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, 'busy.sock');
    const served = await listenOn(t, path);
    await assert.rejects(listen(`unix://${path}`, {}, () => undefined), { code: 'PLEXUS_ERR_CONFIG' });
    // The liveness probe may show up as a connection that ends at once; the first listener still works.
    await proveAlive(t, served);
    assert.ok((await lstat(path)).isSocket());
  });

  it('a foreign (non-Plexus) listener on the path also counts as live', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, 'foreign.sock');
    const server = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve) => server.listen(path, resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    await assert.rejects(listen(`unix://${path}`, {}, () => undefined), { code: 'PLEXUS_ERR_CONFIG' });
  });

  it('a path that is a regular file or a directory gives PLEXUS_ERR_CONFIG and is left alone', async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'not-a-socket');
    await writeFile(file, 'precious');
    await assert.rejects(listen(`unix://${file}`, {}, () => undefined), { code: 'PLEXUS_ERR_CONFIG' });
    assert.ok((await lstat(file)).isFile());
    const sub = join(dir, 'a-dir');
    await mkdir(sub);
    await assert.rejects(listen(`unix://${sub}`, {}, () => undefined), { code: 'PLEXUS_ERR_CONFIG' });
    assert.ok((await lstat(sub)).isDirectory());
  });

  it('dialing a missing socket rejects with PLEXUS_ERR_CONNECT_FAILED', async (t) => {
    const dir = await tempDir(t);
    const started = Date.now();
    await assert.rejects(dial(`unix://${join(dir, 'nobody.sock')}`), { code: 'PLEXUS_ERR_CONNECT_FAILED' });
    assert.ok(Date.now() - started < 1000);
  });

  it('the unix channel reports the socket path as remote', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, 'info.sock');
    const served = await listenOn(t, path);
    const ch = await dial(served.listener.url);
    t.after(() => ch.destroy());
    assert.deepEqual(ch.info, { kind: 'unix', remote: path });
    await proveAlive(t, served);
  });
});
