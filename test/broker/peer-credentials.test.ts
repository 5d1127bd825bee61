import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ErrorCode } from '../../src/errors/index.js';
import { shmAvailability } from '../../src/local/index.js';
import { Cleanup, startTestBroker, tempDir } from '../helpers/plexus.js';
import { rejectionCode } from '../helpers/wait.js';

// Peer credentials need the shared-memory addon (built by `npm ci`). Without it these tests
// fail with the reason rather than pass vacuously, unless PLEXUS_SHM_OPTIONAL=1 says the
// addon may be missing here.
const availability = shmAvailability();
const why = availability.available ? '' : availability.reason;
const skip = !availability.available && process.env['PLEXUS_SHM_OPTIONAL'] === '1' ? `addon unavailable: ${why}` : false;

describe('unix peer credentials', { timeout: 20_000, skip }, () => {
  it('the broker sees the connecting process pid and uid from the kernel', async (t) => {
    assert.ok(availability.available, `the shared-memory addon is needed: ${why}`);
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { via: 'unix' });
    const conn = await b.connect({ name: 'peer-test' });
    await conn.flush();
    const row = b.broker.status().clients.find((r) => r.name === 'peer-test');
    assert.ok(row, 'the client is listed');
    assert.deepEqual(row.peer, { pid: process.pid, uid: process.getuid!(), gid: process.getgid!() });
  });

  it('a user configured with a uid signs in over a Unix socket without credentials, and only there', async (t) => {
    assert.ok(availability.available, `the shared-memory addon is needed: ${why}`);
    const c = new Cleanup(t);
    const sock = `unix://${join(await tempDir(c), 'uid.sock')}`;
    const b = await startTestBroker(c, {
      listen: [sock, 'tcp://127.0.0.1:0'],
      auth: { users: [{ user: 'local-ops', uid: process.getuid!() }] },
    });
    const viaUnix = await b.connect();
    assert.equal(viaUnix.server?.identity, 'local-ops');
    const tcpUrl = b.broker.urls.find((u) => u.startsWith('tcp://'))!;
    const { connect } = await import('../../src/index.js');
    assert.equal(await rejectionCode(connect(tcpUrl, { timeoutMs: 3000, reconnect: false }), 5000, 'tcp without credentials'), ErrorCode.AUTH_FAILED);
  });

  it('messages from a Unix-socket sender carry its kernel credentials as :peer; TCP senders have none; clients cannot forge it', async (t) => {
    assert.ok(availability.available, `the shared-memory addon is needed: ${why}`);
    const c = new Cleanup(t);
    const sock = `unix://${join(await tempDir(c), 'peer.sock')}`;
    const b = await startTestBroker(c, { listen: [sock, 'tcp://127.0.0.1:0'] });
    const { connect } = await import('../../src/index.js');
    const receiver = await b.connect();
    const sub = receiver.subscribe('who.>');
    await receiver.flush();
    const viaUnix = await connect(sock);
    const viaTcp = await connect(b.broker.urls.find((u) => u.startsWith('tcp://'))!);
    c.defer(() => viaUnix.close());
    c.defer(() => viaTcp.close());
    viaUnix.publish('who.unix', 'u');
    await viaUnix.flush();
    viaTcp.publish('who.tcp', 't');
    await viaTcp.flush();
    const got = new Map<string, unknown>();
    for await (const m of sub) {
      got.set(m.subject, m.peer);
      if (got.size === 2) break;
    }
    assert.deepEqual(got.get('who.unix'), { uid: process.getuid!(), gid: process.getgid!(), pid: process.pid });
    assert.equal(got.get('who.tcp'), undefined);
    assert.throws(() => viaTcp.publish('who.x', 'x', { headers: { ':peer': 'uid=0 gid=0 pid=1' } }), /reserved|:/);
  });
});

