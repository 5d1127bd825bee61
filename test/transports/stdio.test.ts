import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FramedTransport, channelFromStreams, listen } from '../../src/transports/index.js';
import { FrameType } from '../../src/wire/index.js';
import { FrameCollector, assertFramesMatch, sendAll, trafficPlan } from '../helpers/frames.js';
import { delay, withTimeout } from '../helpers/timeout.js';

const ECHO = fileURLToPath(new URL('../fixtures/stdio-echo.js', import.meta.url));

interface Child {
  readonly proc: ChildProcessWithoutNullStreams;
  readonly transport: FramedTransport;
  readonly sink: FrameCollector;
  /** Everything the child wrote on stderr so far. */
  stderr(): string;
  /** Exit code, once it has exited. */
  readonly exited: Promise<number | null>;
}

function startEcho(t: TestContext): Child {
  const proc = spawn(process.execPath, [ECHO], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = once(proc, 'exit').then(([code]) => code as number | null);
  t.after(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await withTimeout(exited, 5000, 'child exit');
  });
  const transport = new FramedTransport(channelFromStreams(proc.stdout, proc.stdin, 'child'));
  t.after(() => transport.destroy());
  const sink = new FrameCollector();
  transport.start(sink);
  return { proc, transport, sink, stderr: () => err, exited };
}

describe('stdio transport (child process)', { timeout: 20_000 }, () => {
  it('the child echoes every frame intact and in order; a parent close ends both sides once', async (t) => {
    const child = startEcho(t);
    assert.equal(child.transport.info.kind, 'stdio');
    assert.equal(child.transport.info.remote, 'child');
    const plan = trafficPlan(5);
    sendAll(child.transport, plan);
    await child.sink.waitForFrames(plan.length, 15_000, 'echoed frames');
    assertFramesMatch(child.sink.frames, plan, 'echo');

    child.transport.close();
    assert.equal(await child.sink.waitClosed(5000, 'parent close'), undefined);
    assert.equal(await withTimeout(child.exited, 5000, 'child exit'), 0, child.stderr());
    await delay(20);
    assert.equal(child.sink.closeCount, 1);
    assert.match(child.stderr(), /^stdio-echo: close 1 ok\n$/);
  });

  it('a child-side close (after GOODBYE) flushes its echoes, then ends both sides once', async (t) => {
    const child = startEcho(t);
    const plan = trafficPlan(6, { tiny: 1000 });
    sendAll(child.transport, plan);
    child.transport.send({ type: FrameType.GOODBYE }, 'bulk');
    assert.equal(await child.sink.waitClosed(5000, 'parent sees child close'), undefined);
    assertFramesMatch(child.sink.frames, plan, 'echo before GOODBYE');
    assert.equal(await withTimeout(child.exited, 5000, 'child exit'), 0, child.stderr());
    await delay(20);
    assert.equal(child.sink.closeCount, 1);
    assert.match(child.stderr(), /^stdio-echo: close 1 ok\n$/);
  });

  it('a killed child closes the parent side', async (t) => {
    const child = startEcho(t);
    child.transport.send({ type: FrameType.PUB, subject: 'hi' });
    await child.sink.waitForFrames(1, 5000);
    child.proc.kill('SIGKILL');
    await child.sink.waitClosed(5000, 'close after kill');
    await delay(20);
    assert.equal(child.sink.closeCount, 1);
  });

  it('listen("stdio:") on a terminal stdin is a config error', async () => {
    const stdin = process.stdin as { isTTY?: boolean };
    const was = stdin.isTTY;
    stdin.isTTY = true;
    try {
      await assert.rejects(listen('stdio:', {}, () => undefined), { code: 'PLEXUS_ERR_CONFIG' });
    } finally {
      stdin.isTTY = was;
    }
  });
});
