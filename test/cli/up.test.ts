import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { delay, withTimeout } from '../helpers/timeout.js';
import { alive, runCli, startCli, tempDir, waitForOutput } from './helpers.js';

describe('plexus up', { timeout: 90_000 }, () => {
  it('--demo-only-seconds 3 shows the demo processes talking through the broker, stops them all, exits 0', async (t) => {
    const dir = await tempDir(t);
    const run = startCli(t, ['up', '--listen', `unix://${join(dir, 'up.sock')}`, '--listen', 'tcp://127.0.0.1:0', '--http', 'http://127.0.0.1:0', '--demo-only-seconds', '3'], {
      XDG_RUNTIME_DIR: dir,
    });
    const pids: number[] = [];
    t.after(() => {
      for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    });
    const { code } = await withTimeout(run.exited, 30_000, 'plexus up --demo-only-seconds 3');
    const out = run.stdout();
    for (const m of out.matchAll(/started \(pid (\d+)\)/g)) pids.push(Number(m[1]));
    assert.equal(code, 0, `stdout:\n${out}\nstderr:\n${run.stderr()}`);

    // The broker says where it listens, including the monitor.
    assert.match(out, /unix:\/\/.*up\.sock/);
    assert.match(out, /tcp:\/\/127\.0\.0\.1:\d+/);
    assert.match(out, /http:\/\/127\.0\.0\.1:\d+\/status/);
    // Three processes, over two transports, each stamped with its own identity.
    assert.equal(pids.length, 3, out);
    assert.match(out, /"dashboard" over tcp/);
    assert.match(out, /"sensor" over unix/);
    assert.match(out, /"calculator" over unix/);
    // Pub/sub with a wildcard: what the sensor publishes, the dashboard receives, from "sensor".
    const published = [...out.matchAll(/^sensor +│ → publish (sensors\.\w+\.temp) \{"celsius":([\d.-]+)/gm)];
    assert.ok(published.length >= 3, out);
    const [, subject, celsius] = published[0]!;
    assert.match(out, new RegExp(`^dashboard +│ ← ${subject!.replace(/\./g, '\\.')} from "sensor": ${celsius} °C$`, 'm'));
    // Request/reply: the dashboard asks, the calculator answers, each sees the other's identity.
    assert.match(out, /^calculator +│ ← request calc\.average from "dashboard": \[.*\] → reply [\d.-]+$/m);
    assert.match(out, /^dashboard +│ ← reply from "calculator": average [\d.-]+ °C$/m);
    assert.doesNotMatch(out, /failed|exited unexpectedly/);
    // Every demo process was stopped by PID and is gone.
    assert.equal((out.match(/stopped \(pid \d+\)/g) ?? []).length, 3, out);
    await delay(100);
    for (const pid of pids) assert.equal(alive(pid), false, `demo process ${pid} still running`);
  });

  it('keeps the broker running after the demo until SIGINT, then stops cleanly', async (t) => {
    const dir = await tempDir(t);
    const sock = `unix://${join(dir, 'keep.sock')}`;
    const run = startCli(t, ['up', '--no-demo', '--listen', sock, '--no-http'], { XDG_RUNTIME_DIR: dir });
    await waitForOutput(run, 'stdout', /Press Ctrl-C to stop it/);
    assert.match(run.stdout(), /sub '>' --url unix:\/\/.*keep\.sock/);
    const sub = startCli(t, ['sub', 'demo.hello', '--count', '1'], { PLEXUS_URL: sock });
    await waitForOutput(sub, 'stderr', /listening on demo\.hello/);
    const pub = await runCli(t, ['pub', 'demo.hello', 'hi'], { PLEXUS_URL: sock });
    assert.equal(pub.code, 0, pub.stderr);
    assert.equal((await withTimeout(sub.exited, 10_000, 'sub')).code, 0);
    run.child.kill('SIGINT');
    const { code } = await withTimeout(run.exited, 10_000, 'plexus up to stop on SIGINT');
    assert.equal(code, 0, run.stderr());
    assert.match(run.stdout(), /broker stopped/);
  });

  it('a busy port is reported with the flag to change', async (t) => {
    const dir = await tempDir(t);
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    t.after(() => new Promise<void>((r) => busy.close(() => r())));
    const port = (busy.address() as net.AddressInfo).port;

    const tcp = await runCli(t, ['up', '--no-demo', '--listen', `tcp://127.0.0.1:${port}`, '--http', 'http://127.0.0.1:0'], { XDG_RUNTIME_DIR: dir });
    assert.equal(tcp.code, 1);
    assert.match(tcp.stderr, new RegExp(`^plexus: cannot listen on tcp://127\\.0\\.0\\.1:${port}: port ${port} is already in use.*--listen.*\\(PLEXUS_ERR_CONFIG\\)$`, 'm'));

    const http = await runCli(t, ['up', '--no-demo', '--listen', 'tcp://127.0.0.1:0', '--http', `http://127.0.0.1:${port}`], { XDG_RUNTIME_DIR: dir });
    assert.equal(http.code, 1);
    assert.match(http.stderr, new RegExp(`^plexus: cannot listen on http://127\\.0\\.0\\.1:${port}: .*choose another with --http.*\\(PLEXUS_ERR_CONFIG\\)$`, 'm'));
    assert.doesNotMatch(tcp.stderr + http.stderr, /^\s+at /m);
  });
});

describe('plexus broker', { timeout: 60_000 }, () => {
  it('serves clients until SIGTERM, then closes gracefully with exit 0', async (t) => {
    const dir = await tempDir(t);
    const sock = `unix://${join(dir, 'daemon.sock')}`;
    const run = startCli(t, ['broker', '--listen', sock, '--listen', 'tcp://127.0.0.1:0', '--http', 'http://127.0.0.1:0', '--max-payload', '1k', '--server-id', 'daemon-1']);
    await waitForOutput(run, 'stderr', /SIGTERM stops it/);
    assert.match(run.stderr(), /plexus broker daemon-1 .*listening on/);
    assert.match(run.stderr(), /auth: none/);
    const tcp = /(tcp:\/\/127\.0\.0\.1:\d+)/.exec(run.stderr())![1]!;
    const status = /(http:\/\/127\.0\.0\.1:\d+)\/status/.exec(run.stderr())![1]!;

    const reply = startCli(t, ['reply', 'echo', '--count', '1'], { PLEXUS_URL: sock });
    await waitForOutput(reply, 'stderr', /answering echo/);
    const req = await runCli(t, ['req', 'echo', 'through the daemon', '--url', tcp]);
    assert.equal(req.code, 0, req.stderr);
    assert.equal(req.stdout, 'through the daemon');
    const big = await runCli(t, ['pub', 'x', 'y'.repeat(2000), '--url', tcp]);
    assert.equal(big.code, 1);
    assert.match(big.stderr, /\(PLEXUS_ERR_PAYLOAD_TOO_LARGE\)$/m);
    const body = (await withTimeout(fetch(`${status}/status`).then((r) => r.json()), 5000, 'GET /status')) as { serverId: string };
    assert.equal(body.serverId, 'daemon-1');

    run.child.kill('SIGTERM');
    const { code } = await withTimeout(run.exited, 10_000, 'broker to stop on SIGTERM');
    assert.equal(code, 0, run.stderr());
    assert.match(run.stderr(), /broker stopped/);
  });
});
