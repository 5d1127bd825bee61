import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashPassword } from '../../src/index.js';
import { withTimeout } from '../helpers/timeout.js';
import { runCli, startCli, testBroker, waitForOutput } from './helpers.js';

const posix = process.platform !== 'win32';

describe('plexus pub / sub / req / reply against a test broker', { timeout: 90_000 }, () => {
  it('sub --count 2 over the Unix socket receives two messages published over TCP, then exits 0', async (t) => {
    const { unix, tcp } = await testBroker(t);
    const sub = startCli(t, ['sub', 'greet.*', '--count', '2'], { PLEXUS_URL: unix });
    await waitForOutput(sub, 'stderr', /listening on greet\.\*/);
    const pub = await runCli(t, ['pub', 'greet.world', 'hello {{n}}', '--count', '2', '--header', 'lang=en', '--url', tcp]);
    assert.equal(pub.code, 0, pub.stderr);
    assert.match(pub.stderr, /published 2 messages to greet\.world/);
    const { code } = await withTimeout(sub.exited, 10_000, 'sub to exit after 2 messages');
    assert.equal(code, 0, sub.stderr());
    const out = sub.stdout();
    assert.match(out, /\[#1\] greet\.world from anonymous\n {4}lang: en\n {4}hello 1\n/);
    assert.match(out, /\[#2\] greet\.world from anonymous\n {4}lang: en\n {4}hello 2\n/);
  });

  it('sub --raw prints payloads only; --json one object per line; pub reads piped stdin', async (t) => {
    const { unix } = await testBroker(t);
    const env = { PLEXUS_URL: unix };
    const raw = startCli(t, ['sub', 'data', '--count', '1', '--raw'], env);
    const json = startCli(t, ['sub', 'data', '--count', '1', '--json'], env);
    await waitForOutput(raw, 'stderr', /listening on data/);
    await waitForOutput(json, 'stderr', /listening on data/);
    const pub = await runCli(t, ['pub', 'data'], env, { input: 'from stdin' });
    assert.equal(pub.code, 0, pub.stderr);
    assert.equal((await withTimeout(raw.exited, 10_000, 'raw sub')).code, 0);
    assert.equal((await withTimeout(json.exited, 10_000, 'json sub')).code, 0);
    assert.equal(raw.stdout(), 'from stdin\n');
    assert.deepEqual(JSON.parse(json.stdout()), { subject: 'data', from: 'anonymous', headers: {}, data: 'from stdin' });
  });

  it('sub --filter only receives messages whose headers match', async (t) => {
    const { unix } = await testBroker(t);
    const env = { PLEXUS_URL: unix };
    const sub = startCli(t, ['sub', 'orders.*', '--filter', 'region=eu', '--count', '1', '--raw'], env);
    await waitForOutput(sub, 'stderr', /listening on orders/);
    const us = await runCli(t, ['pub', 'orders.new', 'from-us', '--header', 'region=us'], env);
    assert.equal(us.code, 0, us.stderr);
    const eu = await runCli(t, ['pub', 'orders.new', 'from-eu', '--header', 'region=eu'], env);
    assert.equal(eu.code, 0, eu.stderr);
    assert.equal((await withTimeout(sub.exited, 10_000, 'filtered sub')).code, 0);
    assert.equal(sub.stdout(), 'from-eu\n');
  });

  it('req gets the echo from reply; reply --count exits 0 after answering', async (t) => {
    const { unix, tcp } = await testBroker(t);
    const reply = startCli(t, ['reply', 'echo', '--count', '1'], { PLEXUS_URL: unix });
    await waitForOutput(reply, 'stderr', /answering echo/);
    const req = await runCli(t, ['req', 'echo', 'héllo there', '--url', tcp]);
    assert.equal(req.code, 0, req.stderr);
    assert.equal(req.stdout, 'héllo there');
    assert.equal((await withTimeout(reply.exited, 10_000, 'reply to exit')).code, 0, reply.stderr());
    assert.match(reply.stderr(), /\[#1\] echo from anonymous: héllo there → héllo there/);
  });

  it('reply --cmd runs a shell command with the request on stdin and replies with its stdout', { skip: !posix && 'POSIX shell commands' }, async (t) => {
    const { unix } = await testBroker(t);
    const env = { PLEXUS_URL: unix };
    const reply = startCli(t, ['reply', 'text.upper', '--cmd', 'tr a-z A-Z; printf " for %s" "$PLEXUS_FROM"', '--count', '2'], env);
    await waitForOutput(reply, 'stderr', /answering text\.upper \(running: /);
    const req = await runCli(t, ['req', 'text.upper', 'shout'], env);
    assert.equal(req.code, 0, req.stderr);
    assert.equal(req.stdout, 'SHOUT for anonymous');
    const piped = await runCli(t, ['req', 'text.upper', '--timeout', '5000'], env, { input: 'piped\n' });
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout, 'PIPED\n for anonymous');
    assert.equal((await withTimeout(reply.exited, 10_000, 'reply to exit')).code, 0);
  });

  it('a failing --cmd reaches the caller as PLEXUS_ERR_HANDLER_FAILED with its stderr, exit 1', { skip: !posix && 'POSIX shell commands' }, async (t) => {
    const { unix } = await testBroker(t);
    const env = { PLEXUS_URL: unix };
    const reply = startCli(t, ['reply', 'broken', '--cmd', 'echo disk on fire >&2; exit 3', '--count', '1'], env);
    await waitForOutput(reply, 'stderr', /answering broken/);
    const req = await runCli(t, ['req', 'broken', 'x'], env);
    assert.equal(req.code, 1);
    assert.match(req.stderr, /^plexus: the command exited with code 3: disk on fire \(PLEXUS_ERR_HANDLER_FAILED\)$/m);
  });

  it('req to nobody: PLEXUS_ERR_NO_RESPONDERS, exit 1; req past its timeout: PLEXUS_ERR_TIMEOUT', { skip: !posix && 'POSIX shell commands' }, async (t) => {
    const { unix } = await testBroker(t);
    const env = { PLEXUS_URL: unix };
    const nobody = await runCli(t, ['req', 'nobody.home', 'hello?'], env);
    assert.equal(nobody.code, 1);
    assert.match(nobody.stderr, /^plexus: .*\(PLEXUS_ERR_NO_RESPONDERS\)$/m);
    assert.equal(nobody.stdout, '');

    const slow = startCli(t, ['reply', 'slow', '--cmd', 'sleep 20', '--count', '1'], env);
    await waitForOutput(slow, 'stderr', /answering slow/);
    const late = await runCli(t, ['req', 'slow', 'x', '--timeout', '300'], env);
    assert.equal(late.code, 1);
    assert.match(late.stderr, /\(PLEXUS_ERR_TIMEOUT\)$/m);
    // The caller's deadline reaches the responder, which kills the command.
    await waitForOutput(slow, 'stderr', /\[#1\] slow from anonymous: x → error: /);
    assert.equal((await withTimeout(slow.exited, 10_000, 'reply to exit')).code, 0);
  });

  it('--user/--pass authenticate against a password hash; a wrong password is PLEXUS_ERR_AUTH_FAILED', async (t) => {
    const { unix } = await testBroker(t, { auth: { users: [{ user: 'alice', passwordHash: hashPassword('s3cret') }] } });
    const env = { PLEXUS_URL: unix };
    const sub = startCli(t, ['sub', 'secure', '--count', '1', '--user', 'alice'], { ...env, PLEXUS_PASS: 's3cret' });
    await waitForOutput(sub, 'stderr', /listening on secure .* as alice/);
    const ok = await runCli(t, ['pub', 'secure', 'hi', '--user', 'alice', '--pass', 's3cret'], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((await withTimeout(sub.exited, 10_000, 'sub')).code, 0);
    assert.match(sub.stdout(), /secure from alice/);
    const bad = await runCli(t, ['pub', 'secure', 'hi', '--user', 'alice', '--pass', 'guess'], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /\(PLEXUS_ERR_AUTH_FAILED\)$/m);
  });

  it('bench runs against the broker and prints a summary table', async (t) => {
    const { tcp } = await testBroker(t);
    const r = await runCli(t, ['bench', '--url', tcp, '--msgs', '3000', '--size', '32', '--pub', '2', '--sub', '2'], {}, { ms: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /msgs\/s\s+MB\/s/);
    for (const role of ['pub #1', 'pub #2', 'pub total', 'sub #1', 'sub #2', 'sub total', 'overall']) assert.match(r.stdout, new RegExp(`^${role}\\s`, 'm'));
    assert.match(r.stdout, /^sub #2\s+3,000\s/m);
  });
});
