import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startBroker, type PlexusServer } from '../../src/server/index.js';
import { connect, type Connection } from '../../src/client/index.js';
import { mailbox, type QueueMessage } from '../../src/patterns/index.js';
import { Cleanup, tempDir } from '../helpers/plexus.js';
import { rejectionCode, within } from '../helpers/wait.js';
import { durableFixture } from '../durable/helpers.js';

const auth = {
  users: [
    { user: 'alice', password: 'alice-pw' },
    { user: 'bob', password: 'bob-pw' },
  ],
};

async function next(it: AsyncIterator<QueueMessage>, ms = 3000): Promise<QueueMessage> {
  const r = await within(it.next(), ms, 'next message');
  assert.equal(r.done, false, 'iteration ended');
  return r.value as QueueMessage;
}

void describe('mailbox pattern', () => {
  void it('messages wait while the reader is away and the broker restarts; the stamped sender comes with them', async (t) => {
    const cleanup = new Cleanup(t);
    const dir = await tempDir(cleanup, 'plexus-mbox-');
    let server: PlexusServer | undefined;
    const start = async (): Promise<string> => {
      server = await startBroker({ listen: ['tcp://127.0.0.1:0'], auth, durable: { dir } });
      return server.urls[0]!;
    };
    cleanup.defer(() => server?.close({ drainMs: 0 }));
    const as = async (url: string, user: string): Promise<Connection> => {
      const c = await connect(url, { user, pass: `${user}-pw`, timeoutMs: 3000, reconnect: false });
      cleanup.defer(() => c.close());
      return c;
    };
    let url = await start();
    const bob = await as(url, 'bob');
    await mailbox(bob, 'alice').send('lunch at noon?', { headers: { topic: 'lunch' } });
    await mailbox(bob, 'alice').send('bring the report');
    // Bob cannot read alice's mail, nor forge a sender.
    assert.equal(await rejectionCode(mailbox(bob, 'alice').read().next(), 3000), 'PLEXUS_ERR_PERMISSION_DENIED');
    assert.equal(await rejectionCode(mailbox(bob, 'alice').stat(), 3000), 'PLEXUS_ERR_PERMISSION_DENIED');
    assert.equal(await rejectionCode(mailbox(bob, 'alice').dlq().read(), 3000), 'PLEXUS_ERR_PERMISSION_DENIED');
    await assert.rejects(mailbox(bob, 'alice').send('from alice, honest', { headers: { ':from': 'alice' } }), { code: 'PLEXUS_ERR_INVALID_HEADERS' });
    await bob.close();
    await server!.close({ drainMs: 0 });

    url = await start();
    const alice = await as(url, 'alice');
    const box = mailbox(alice, 'alice');
    const it = box.read();
    const m1 = await next(it);
    assert.equal(m1.string(), 'lunch at noon?');
    assert.equal(m1.from, 'bob');
    assert.equal(m1.headers.topic, 'lunch');
    await m1.ack();
    const m2 = await next(it);
    assert.equal(m2.string(), 'bring the report');
    assert.equal(m2.from, 'bob');
    await m2.ack();
    await it.close();
    const st = await box.stat();
    assert.deepEqual({ stored: st.stored, unacked: st.unacked, ready: st.ready }, { stored: 0, unacked: 0, ready: 0 });
    // Alice may write to her own mailbox too; the sender is still stamped.
    await box.send('note to self');
    const [self] = await (async () => {
      const r = box.read();
      const m = await next(r);
      await m.ack();
      await r.close();
      return [m];
    })();
    assert.equal(self!.from, 'alice');
  });

  void it('a broker without auth leaves mailboxes open to every (anonymous) client', async (t) => {
    const f = await durableFixture(t);
    await mailbox(f.bus, 'carol').send('hi');
    const other = await f.client();
    const it = mailbox(other.bus, 'carol').read({ ack: 'auto' });
    const m = await next(it);
    assert.equal(m.string(), 'hi');
    assert.equal(m.from, 'anonymous');
    await it.close();
  });

  void it('rejects mailbox names that cannot be identities here', async (t) => {
    const f = await durableFixture(t);
    assert.throws(() => mailbox(f.bus, 'cn:alice'), { code: 'PLEXUS_ERR_INVALID_ARGUMENT' });
  });
});
