/**
 * Cross-language interop: the Python client in interop/python, written from
 * docs/protocol.md only, talks to the real broker and to the TypeScript client both ways.
 * If python3 is missing these tests fail (they never skip).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { z } from 'zod';
import { defineService, methodSubject, serveService, ServiceError } from '../../src/contract/index.js';
import { ErrorCode, PlexusError } from '../../src/errors/index.js';
import type { AuthConfig } from '../../src/broker/index.js';
import { Cleanup, startTestBroker, take } from '../helpers/plexus.js';
import { deferred, rejection, within } from '../helpers/wait.js';
import { VECTORS_FILE, pythonVersion, runPython } from './python-process.js';

const CLI = 'plexus_cli.py';
const auth: AuthConfig = {
  users: [
    { user: 'py', token: 'py-token' },
    { user: 'ts', token: 'ts-token' },
  ],
};

test('python3 3.11+ is available (required, not optional)', () => {
  const version = pythonVersion();
  const m = /^Python (\d+)\.(\d+)/.exec(version);
  assert.ok(m, version);
  assert.ok(Number(m[1]) > 3 || (Number(m[1]) === 3 && Number(m[2]) >= 11), `need Python 3.11+, have ${version}`);
});

test('the Python codec decodes every valid vector and rejects every invalid one', async (t) => {
  const cleanup = new Cleanup(t);
  const vectors = JSON.parse(readFileSync(VECTORS_FILE, 'utf8')) as { valid: unknown[]; invalid: unknown[] };
  const py = runPython(cleanup, 'check_vectors.py', [VECTORS_FILE]);
  const code = await py.exit(20_000);
  const out = py.events.map((e) => e.data['line'] ?? `${e.event} ${JSON.stringify(e.data)}`).join('\n');
  assert.equal(code, 0, `${out}\n${py.stderr()}`);
  assert.match(out, new RegExp(`^valid ${vectors.valid.length}/${vectors.valid.length}$`, 'm'));
  assert.match(out, new RegExp(`^invalid ${vectors.invalid.length}/${vectors.invalid.length}$`, 'm'));
  assert.doesNotMatch(out, /FAIL/);
});

test('Python publishes with a token, TypeScript receives it stamped with the Python identity', async (t) => {
  const cleanup = new Cleanup(t);
  const b = await startTestBroker(cleanup, { auth });
  const ts = await b.connect({ token: 'ts-token' });
  const sub = ts.subscribe('interop.py.>');
  await ts.flush();

  const py = runPython(cleanup, CLI, ['--token', 'py-token', 'pub', b.url, 'interop.py.orders.new', 'héllo ☕', '--header', 'x-try=2']);
  const welcome = await py.next('connected', 10_000);
  assert.equal(welcome['identity'], 'py');
  assert.match(String(welcome['connId']), /-\d+$/);
  const [msg] = await take(sub, 1, 10_000);
  assert.equal(msg!.subject, 'interop.py.orders.new');
  assert.equal(msg!.string(), 'héllo ☕');
  assert.deepEqual({ ...msg!.headers }, { 'x-try': '2' });
  assert.equal(msg!.from, 'py');
  assert.equal(await py.exit(10_000), 0);

  const bad = runPython(cleanup, CLI, ['--token', 'wrong', 'pub', b.url, 'interop.py.x', 'no']);
  assert.equal((await bad.next('error', 10_000))['code'], ErrorCode.AUTH_FAILED);
  assert.equal(await bad.exit(10_000), 3);
});

test('TypeScript publishes, a Python wildcard subscription receives; Python answers broker PINGs', async (t) => {
  const cleanup = new Cleanup(t);
  const b = await startTestBroker(cleanup, { auth, heartbeatMs: 200 });
  const ts = await b.connect({ token: 'ts-token' });
  // --no-ping: Python never pings on its own, so over a 1.2 s linger (6 heartbeats) the
  // broker must ping it, and drops it after 3 silent beats unless it answers.
  const py = runPython(cleanup, CLI, ['--token', 'py-token', '--no-ping', 'sub', b.url, 'interop.ts.*', '--count', '2', '--linger', '1.2']);
  await py.next('ready', 10_000);
  ts.publish('interop.ts.a', 'first', { headers: { k: 'v' } });
  ts.publish('interop.ts.a.deeper', 'not matched: * is one token');
  ts.publish('interop.other', 'not matched');
  ts.publish('interop.ts.b', new Uint8Array([0x7b, 0x7d]));
  assert.deepEqual(await py.next('msg', 10_000), { subject: 'interop.ts.a', payload: 'first', headers: { k: 'v' }, from: 'ts' });
  assert.deepEqual(await py.next('msg', 10_000, 1), { subject: 'interop.ts.b', payload: '{}', headers: {}, from: 'ts' });
  const done = await py.next('done', 10_000);
  assert.equal(done['open'], true);
  assert.equal(done['dropped'], 0);
  assert.ok((done['pingsAnswered'] as number) > 0, JSON.stringify(done));
  assert.equal(await py.exit(10_000), 0);
  assert.equal(py.events.filter((e) => e.event === 'msg').length, 2);
});

test('TypeScript requests, Python serves over a Unix socket: replies, coded errors and cancellation', async (t) => {
  const cleanup = new Cleanup(t);
  const b = await startTestBroker(cleanup, { auth, via: 'unix' });
  assert.match(b.url, /^unix:\/\//);
  const ts = await b.connect({ token: 'ts-token' });
  const py = runPython(cleanup, CLI, ['--token', 'py-token', 'serve', b.url, 'interop.upper', '--count', '4', '--queue', 'py']);
  await py.next('ready', 10_000);

  const reply = await ts.request('interop.upper', 'abc ü', { timeout: 5000, headers: { 'x-id': '1' } });
  assert.equal(reply.string(), 'ABC Ü');
  assert.equal(reply.from, 'py');
  const seen = await py.next('request', 5000);
  assert.deepEqual(seen, { from: 'ts', payload: 'abc ü', timeoutMs: 5000, headers: { 'x-id': '1' } });

  const refused = await rejection(ts.request('interop.upper', 'fail', { timeout: 5000 }), 6000);
  assert.ok(refused instanceof PlexusError);
  assert.equal(refused.code, ErrorCode.INVALID_ARGUMENT);
  assert.equal(refused.message, 'refused on purpose');
  assert.deepEqual(refused.details, { input: 'fail' });

  const crashed = await rejection(ts.request('interop.upper', 'crash', { timeout: 5000 }), 6000);
  assert.equal((crashed as PlexusError).code, ErrorCode.HANDLER_FAILED);
  assert.match((crashed as PlexusError).message, /handler crashed/);

  // The TS client's timeout sends a CANCEL; the Python handler sees it with the reason.
  const timedOut = await rejection(ts.request('interop.upper', 'hang', { timeout: 300 }), 5000);
  assert.equal((timedOut as PlexusError).code, ErrorCode.TIMEOUT);
  const cancelled = await py.next('cancelled', 5000);
  assert.equal(cancelled['cancelled'], true);
  assert.match(String(cancelled['reason']), /PLEXUS_ERR_TIMEOUT/);
  assert.equal(await py.exit(10_000), 0);
});

test('Python requests, TypeScript serves: reply, ServiceError-style codes, no responders, timeout + cancel', async (t) => {
  const cleanup = new Cleanup(t);
  const b = await startTestBroker(cleanup, { auth });
  const ts = await b.connect({ token: 'ts-token' });
  const aborted = deferred<unknown>();
  ts.serve('interop.add', (msg, ctx) => {
    const { a, b: bb, mode } = msg.json<{ a: number; b: number; mode?: string }>();
    if (mode === 'refuse') throw new PlexusError(ErrorCode.PERMISSION_DENIED, 'not you', { details: { who: ctx.from } });
    if (mode === 'hang') {
      return new Promise((_resolve, reject) =>
        ctx.signal.addEventListener('abort', () => {
          aborted.resolve(ctx.signal.reason);
          reject(ctx.signal.reason);
        }),
      );
    }
    return JSON.stringify({ sum: a + bb, caller: ctx.from, timeoutMs: msg.timeoutMs });
  });
  await ts.flush();

  const ok = runPython(cleanup, CLI, ['--token', 'py-token', 'request', b.url, 'interop.add', '{"a":2,"b":40}', '--timeout', '3']);
  const reply = await ok.next('reply', 10_000);
  assert.deepEqual(JSON.parse(String(reply['payload'])), { sum: 42, caller: 'py', timeoutMs: 3000 });
  assert.equal(reply['from'], 'ts');
  assert.equal(await ok.exit(10_000), 0);

  const refused = runPython(cleanup, CLI, ['--token', 'py-token', 'request', b.url, 'interop.add', '{"a":1,"b":1,"mode":"refuse"}']);
  assert.deepEqual(await refused.next('error', 10_000), { code: ErrorCode.PERMISSION_DENIED, message: 'not you', details: { who: 'py' } });

  const nobody = runPython(cleanup, CLI, ['--token', 'py-token', 'request', b.url, 'interop.nobody', '{}']);
  assert.equal((await nobody.next('error', 10_000))['code'], ErrorCode.NO_RESPONDERS);

  const slow = runPython(cleanup, CLI, ['--token', 'py-token', 'request', b.url, 'interop.add', '{"a":1,"b":1,"mode":"hang"}', '--timeout', '0.4']);
  assert.equal((await slow.next('error', 10_000))['code'], ErrorCode.TIMEOUT);
  // Python's CANCEL carries the timeout's wire form, so the TS handler aborts with TIMEOUT.
  const reason = await within(aborted.promise, 5000, 'TS handler abort');
  assert.equal((reason as PlexusError).code, ErrorCode.TIMEOUT);
  for (const p of [refused, nobody, slow]) assert.equal(await p.exit(10_000), 0);
});

test('Python calls a typed TypeScript service by its subject: JSON in, JSON out, validation and service errors', async (t) => {
  const cleanup = new Cleanup(t);
  const b = await startTestBroker(cleanup, { auth });
  const ts = await b.connect({ token: 'ts-token' });
  const calc = defineService('calc', {
    version: '1.4.0',
    methods: { divide: { input: z.object({ a: z.number(), b: z.number() }), output: z.object({ q: z.number(), caller: z.string() }) } },
  });
  const server = serveService(ts, calc, {
    divide: async ({ a, b: d }, ctx) => {
      if (d === 0) throw new ServiceError('DIVISION_BY_ZERO', 'b must not be 0', { a });
      return { q: a / d, caller: ctx.caller };
    },
  });
  cleanup.defer(() => server.close());
  await ts.flush();
  const subject = methodSubject(calc, 'divide');
  assert.equal(subject, '$SRV.calc.1.divide');
  const args = (data: string): string[] => ['--token', 'py-token', 'request', b.url, subject, data, '--header', 'content-type=application/json'];

  const ok = runPython(cleanup, CLI, args('{"a":7,"b":2}'));
  assert.deepEqual(JSON.parse(String((await ok.next('reply', 10_000))['payload'])), { q: 3.5, caller: 'py' });

  const invalid = runPython(cleanup, CLI, args('{"a":"seven","b":2}'));
  const v = await invalid.next('error', 10_000);
  // On the wire every ServiceError, validation included, is PLEXUS_ERR_SERVICE with the
  // real code inside (docs/services.md); TS clients unwrap it, a raw client sees the carrier.
  assert.equal(v['code'], ErrorCode.SERVICE);
  const inner = v['details'] as { code: string; details: { where: string; issues: { path: string[] }[] } };
  assert.equal(inner.code, ErrorCode.VALIDATION);
  assert.equal(inner.details.where, 'input');
  assert.deepEqual(inner.details.issues.map((i) => i.path), [['a']]);

  const zero = runPython(cleanup, CLI, args('{"a":1,"b":0}'));
  // A ServiceError travels as PLEXUS_ERR_SERVICE carrying the application code (docs/services.md).
  assert.deepEqual(await zero.next('error', 10_000), { code: ErrorCode.SERVICE, message: 'b must not be 0', details: { code: 'DIVISION_BY_ZERO', details: { a: 1 } } });
  for (const p of [ok, invalid, zero]) assert.equal(await p.exit(10_000), 0);
});
