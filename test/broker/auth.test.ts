import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { hashPassword, loadAuthConfig, startBroker, type AuthConfig } from '../../src/broker/index.js';
import { connect, type Connection } from '../../src/client/index.js';
import { ErrorCode, type PlexusError } from '../../src/errors/index.js';
import { gather } from '../../src/discovery/index.js';
import { Flag, FrameType } from '../../src/wire/index.js';
import { Cleanup, settle, startTestBroker, take, tempDir } from '../helpers/plexus.js';
import { RawClient } from '../helpers/raw.js';
import { rejection, rejectionCode, waitFor, within } from '../helpers/wait.js';

const auth: AuthConfig = {
  users: [
    { user: 'alice', password: 'wonderland' },
    { user: 'bob', passwordHash: hashPassword('builder') },
    { user: 'svc', token: 's3cr3t-token' },
    {
      user: 'orders',
      password: 'pw',
      permissions: {
        publish: { allow: ['orders.>'], deny: ['orders.secret.>'] },
        subscribe: { allow: ['orders.>', 'public.*', '_INBOX.>'], deny: ['orders.audit'] },
      },
    },
    {
      // A responder that may only publish on its service subject: it must still be able
      // to answer requests on their _INBOX reply subjects.
      user: 'responder',
      password: 'pw',
      permissions: { publish: { allow: ['svc.status'] }, subscribe: { allow: ['svc.>', '_INBOX.>'] } },
    },
  ],
};

function errorsOf(conn: Connection): PlexusError[] {
  const errs: PlexusError[] = [];
  conn.on('error', (e) => errs.push(e));
  return errs;
}

describe('auth', { timeout: 30_000 }, () => {
  it('accepts a token, a password and a scrypt passwordHash, and reports the identity', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { auth });
    const bySvc = await b.connect({ token: 's3cr3t-token' });
    const byAlice = await b.connect({ user: 'alice', pass: 'wonderland' });
    const byBob = await b.connect({ user: 'bob', pass: 'builder' });
    assert.equal(bySvc.server?.identity, 'svc');
    assert.equal(byAlice.server?.identity, 'alice');
    assert.equal(byBob.server?.identity, 'bob');
    assert.equal(b.broker.status().connections, 3);
  });

  it('wrong credentials make connect reject with PLEXUS_ERR_AUTH_FAILED and are counted', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { auth });
    const attempts: [string, Parameters<typeof connect>[1]][] = [
      ['bad token', { token: 'nope' }],
      ['bad password', { user: 'alice', pass: 'WONDERLAND' }],
      ['bad hashed password', { user: 'bob', pass: 'builder ' }],
      ['unknown user', { user: 'mallory', pass: 'x' }],
      ['user without password', { user: 'alice' }],
      ['password of another user', { user: 'bob', pass: 'wonderland' }],
    ];
    for (const [what, opts] of attempts) {
      const code = await rejectionCode(connect(b.url, { ...opts, reconnect: true, timeoutMs: 3000 }), 5000, what);
      assert.equal(code, ErrorCode.AUTH_FAILED, what);
    }
    assert.equal(b.broker.status().counters.authFailures, attempts.length);
    assert.equal(b.broker.status().connections, 0);
  });

  it('refuses anonymous connections unless the config allows them', async (t) => {
    const c = new Cleanup(t);
    const strict = await startTestBroker(c, { auth });
    assert.equal(await rejectionCode(connect(strict.url, { timeoutMs: 3000 }), 5000, 'anonymous'), ErrorCode.AUTH_FAILED);

    const open = await startTestBroker(c, {
      via: 'inproc',
      auth: { users: auth.users, anonymous: { publish: { allow: ['public.>'] }, subscribe: { allow: ['public.>', '_INBOX.>'] } } },
    });
    const anon = await open.connect();
    assert.equal(anon.server?.identity, 'anonymous');
    const errs = errorsOf(anon);
    const sub = anon.subscribe('public.news');
    anon.publish('public.news', 'hi');
    const [m] = await take(sub, 1, 3000);
    assert.equal(m!.from, 'anonymous');
    anon.publish('private.x', 'no');
    await waitFor(() => errs.length > 0, 3000, 'permission error');
    assert.equal(errs[0]!.code, ErrorCode.PERMISSION_DENIED);
  });

  it('enforces publish allow/deny (deny wins) with an error event, and lets allowed traffic through', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { auth });
    const admin = await b.connect({ user: 'alice', pass: 'wonderland' });
    const seen = admin.subscribe('>');
    const orders = await b.connect({ user: 'orders', pass: 'pw' });
    const errs = errorsOf(orders);
    await admin.flush();

    orders.publish('orders.new', '1'); // allowed
    orders.publish('orders.secret.keys', '2'); // allowed by allow, denied by deny: deny wins
    orders.publish('billing.charge', '3'); // not in allow
    orders.publish('orders.new', '4');
    await orders.flush();
    await waitFor(() => errs.length >= 2, 3000, 'two permission errors');
    assert.deepEqual(
      errs.map((e) => e.code),
      [ErrorCode.PERMISSION_DENIED, ErrorCode.PERMISSION_DENIED],
    );
    assert.match(errs[0]!.message, /orders\.secret\.keys/);
    assert.match(errs[1]!.message, /billing\.charge/);
    const got = await take(seen, 2, 3000);
    assert.deepEqual(got.map((m) => `${m.subject}=${m.string()}`), ['orders.new=1', 'orders.new=4']);
    await settle(30);
    assert.equal(seen.pending, 0, 'denied messages were never delivered');
    assert.equal(orders.status, 'open', 'a refused publish does not close the connection');
    assert.equal(b.broker.status().counters.permissionDenied, 2);
  });

  it('a request to a subject the caller may not publish to rejects with PERMISSION_DENIED', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { auth });
    const orders = await b.connect({ user: 'orders', pass: 'pw' });
    assert.equal(await rejectionCode(orders.request('billing.total', '', { timeout: 5000 }), 3000), ErrorCode.PERMISSION_DENIED);
  });

  it('enforces subscribe allow/deny: a denied subscription iterator throws PERMISSION_DENIED', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { auth });
    const orders = await b.connect({ user: 'orders', pass: 'pw' });
    const denied = [
      orders.subscribe('billing.>'), // not covered by allow
      orders.subscribe('orders.audit'), // denied
      orders.subscribe('orders.*'), // overlaps the denied orders.audit
      orders.subscribe('public.>'), // allow has public.* only: '>' is wider
    ];
    const ok = orders.subscribe('orders.new');
    for (const sub of denied) {
      const err = await rejection(take(sub, 1, 3000), 3000, `iterating ${sub.subject}`);
      assert.equal((err as PlexusError).code, ErrorCode.PERMISSION_DENIED, sub.subject);
      assert.equal(sub.isClosed, true);
    }
    orders.publish('orders.new', 'x');
    const [m] = await take(ok, 1, 3000);
    assert.equal(m!.string(), 'x');
    assert.equal(orders.status, 'open');
  });

  it('a responder may answer on the request inbox though its allow-list lacks _INBOX, but not publish there at will', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { auth });
    const responder = await b.connect({ user: 'responder', pass: 'pw' });
    const rErrs = errorsOf(responder);
    let inbox = '';
    responder.serve('svc.echo', (msg, ctx) => {
      inbox = msg.reply;
      return `${ctx.from}:${msg.string()}`;
    });
    // A second path: answering with msg.respond() instead of a return value.
    const sub = responder.subscribe('svc.manual');
    void (async () => {
      for await (const m of sub) m.respond(`manual:${m.string()}`);
    })();
    await responder.flush();
    const caller = await b.connect({ user: 'alice', pass: 'wonderland' });
    const reply = await within(caller.request('svc.echo', 'ping', { timeout: 3000 }), 4000, 'request');
    assert.equal(reply.string(), 'alice:ping');
    assert.equal(reply.from, 'responder');
    const manual = await within(caller.request('svc.manual', 'x', { timeout: 3000 }), 4000, 'manual request');
    assert.equal(manual.string(), 'manual:x');

    // Once answered, that inbox is closed to it again, as is any other _INBOX subject.
    responder.publish(inbox, 'late');
    responder.publish(`${caller.inbox}.forged`, 'spam');
    await waitFor(() => rErrs.length >= 2, 3000, 'permission errors');
    assert.ok(rErrs.every((e) => e.code === ErrorCode.PERMISSION_DENIED));
  });

  it('every responder holding a request may answer it once (a gather), without _INBOX rights; a second answer is refused', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { auth });
    const responders = [await b.connect({ user: 'responder', pass: 'pw' }), await b.connect({ user: 'responder', pass: 'pw' })];
    const errs = responders.map((r) => errorsOf(r));
    const inboxes: string[] = [];
    responders.forEach((r, i) => {
      const sub = r.subscribe('svc.all');
      void (async () => {
        for await (const m of sub) {
          inboxes.push(m.reply);
          m.respond(`answer ${i}`);
        }
      })();
    });
    for (const r of responders) await r.flush();
    const caller = await b.connect({ user: 'alice', pass: 'wonderland' });
    const answers = await within(gather(caller, 'svc.all', 'who is there', { timeoutMs: 3000, expect: 2 }), 5000, 'the gather');
    assert.deepEqual(answers.map((a) => a.msg.string()).sort(), ['answer 0', 'answer 1']);
    assert.ok(answers.every((a) => a.error === undefined));
    assert.deepEqual(errs.map((e) => e.length), [0, 0], 'no answer was refused');
    // Each has answered: the inbox is closed to both again.
    responders[0]!.publish(inboxes[0]!, 'again');
    await waitFor(() => errs[0]!.length === 1, 3000, 'the second answer refused');
    assert.equal(errs[0]![0]!.code, ErrorCode.PERMISSION_DENIED);
  });

  it("a requester cannot aim a responder's reply at a subject the responder may not publish to", async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { auth });
    const responder = await b.connect({ user: 'responder', pass: 'pw' });
    const rErrs = errorsOf(responder);
    responder.serve('svc.echo', (msg) => msg.data);
    await responder.flush();
    const admin = await b.connect({ user: 'alice', pass: 'wonderland' });
    const bank = admin.subscribe('bank.>');
    await admin.flush();
    // 'orders' may not publish to bank.* and neither may 'responder'. A hand-made request
    // whose reply subject is bank.transfer must not turn the responder into a deputy.
    const raw = await RawClient.connect(c, b.url);
    await raw.hello({ user: 'alice', pass: 'wonderland' });
    raw.send({ type: FrameType.PUB, flags: Flag.REQUEST, aux: 2000, subject: 'svc.echo', reply: 'bank.transfer', payload: Buffer.from('pay mallory') });
    await waitFor(() => rErrs.length > 0, 3000, 'the responder told its reply was refused');
    assert.equal(rErrs[0]!.code, ErrorCode.PERMISSION_DENIED);
    await settle(50);
    assert.equal(bank.pending, 0, 'nothing reached bank.transfer');
  });

  it('a request from a user who may not subscribe to its reply subject fails fast with PERMISSION_DENIED', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, {
      auth: { users: [...auth.users, { user: 'mute', password: 'pw', permissions: { subscribe: { allow: ['news.>'] } } }] },
    });
    const svc = await b.connect({ user: 'alice', pass: 'wonderland' });
    svc.serve('svc.echo', (m) => m.data);
    await svc.flush();
    const mute = await b.connect({ user: 'mute', pass: 'pw' });
    const errs = errorsOf(mute);
    // Its inbox subscription was refused at connect time; that is reported, not swallowed.
    await waitFor(() => errs.length > 0, 3000, 'inbox refusal reported');
    assert.equal(errs[0]!.code, ErrorCode.PERMISSION_DENIED);
    const code = await rejectionCode(mute.request('svc.echo', 'x', { timeout: 10_000 }), 5000, 'request without a usable inbox');
    assert.equal(code, ErrorCode.PERMISSION_DENIED);
  });

  describe('config validation', () => {
    const bad: [string, unknown][] = [
      ['users is not an array', { users: {} }],
      ['a user entry is null', { users: [null] }],
      ['a user without a name', { users: [{ password: 'x' }] }],
      ['a duplicate user', { users: [{ user: 'a', password: 'x' }, { user: 'a', password: 'y' }] }],
      ['a user without credentials', { users: [{ user: 'a' }] }],
      ['a non-boolean certificate flag', { users: [{ user: 'a', certificate: 'yes' }] }],
      ['a password that is not a string', { users: [{ user: 'a', password: 123 }] }],
      ['a token that is not a string', { users: [{ user: 'a', token: { t: 1 } }] }],
      ['an empty token', { users: [{ user: 'a', token: '' }] }],
      ['two users sharing a token', { users: [{ user: 'a', token: 't' }, { user: 'b', token: 't' }] }],
      ['a malformed passwordHash', { users: [{ user: 'a', passwordHash: 'md5:abc' }] }],
      ['a passwordHash with an empty hash', { users: [{ user: 'a', passwordHash: 'scrypt:c2FsdHNhbHQ=:=' }] }],
      ['an allow list that is a string', { users: [{ user: 'a', password: 'x', permissions: { publish: { allow: 'foo' } } }] }],
      ['an invalid pattern', { users: [{ user: 'a', password: 'x', permissions: { subscribe: { deny: ['a.>.b'] } } }] }],
      ['an invalid anonymous pattern', { users: [], anonymous: { publish: { allow: ['bad subject'] } } }],
      ['anonymous permissions that are not an object', { users: [], anonymous: 'yes' }],
    ];

    for (const [what, cfg] of bad) {
      it(`loadAuthConfig rejects ${what} with PLEXUS_ERR_CONFIG`, async (t) => {
        const c = new Cleanup(t);
        const path = join(await tempDir(c), 'auth.json');
        await writeFile(path, JSON.stringify(cfg));
        assert.equal(await rejectionCode(loadAuthConfig(path), 3000, what), ErrorCode.CONFIG);
        // The same config passed in code is refused by startBroker too.
        assert.equal(
          await rejectionCode(startBroker({ listen: ['tcp://127.0.0.1:0'], auth: cfg as AuthConfig }), 3000, what),
          ErrorCode.CONFIG,
        );
      });
    }

    it('loadAuthConfig rejects a missing file and invalid JSON with PLEXUS_ERR_CONFIG, and loads a good one', async (t) => {
      const c = new Cleanup(t);
      const dir = await tempDir(c);
      assert.equal(await rejectionCode(loadAuthConfig(join(dir, 'missing.json')), 3000), ErrorCode.CONFIG);
      await writeFile(join(dir, 'bad.json'), '{"users": [');
      assert.equal(await rejectionCode(loadAuthConfig(join(dir, 'bad.json')), 3000), ErrorCode.CONFIG);
      await writeFile(join(dir, 'good.json'), JSON.stringify(auth));
      const loaded = await loadAuthConfig(join(dir, 'good.json'));
      assert.equal(loaded.users.length, auth.users.length);
      const b = await startTestBroker(c, { auth: loaded });
      const bob = await b.connect({ user: 'bob', pass: 'builder' });
      assert.equal(bob.server?.identity, 'bob');
    });
  });
});
