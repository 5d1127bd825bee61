import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startBroker, type BrokerStatus } from '../../src/broker/index.js';
import { connect } from '../../src/client/index.js';
import { ErrorCode } from '../../src/errors/index.js';
import { Cleanup, startTestBroker, take, tempDir } from '../helpers/plexus.js';
import { rejectionCode, waitFor, within } from '../helpers/wait.js';

async function get(url: string): Promise<{ status: number; type: string; body: string }> {
  const res = await within(fetch(url), 3000, `GET ${url}`);
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

/** Parse Prometheus text into name{labels} → value. */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-z_]+(?:\{[^}]*\})?) (-?[0-9.e+]+)$/.exec(line);
    assert.ok(m, `not a Prometheus sample line: ${JSON.stringify(line)}`);
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

describe('monitor endpoint', { timeout: 30_000 }, () => {
  it('/status returns JSON and /metrics Prometheus text with the right counters', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, {
      http: 'http://127.0.0.1:0',
      auth: { users: [{ user: 'svc', token: 'tok' }], anonymous: {} },
    });
    const http = b.broker.httpUrl!;
    assert.match(http, /^http:\/\/127\.0\.0\.1:\d+$/);

    const a = await b.connect({ name: 'subscriber' });
    const sub = a.subscribe('metrics.*');
    await a.flush();
    const p = await b.connect({ token: 'tok', name: 'publisher' });
    for (let i = 0; i < 5; i++) p.publish('metrics.x', 'abcd'); // 5 in, 5 out, 20 bytes each way
    await take(sub, 5, 3000);
    assert.equal(await rejectionCode(p.request('nobody', 'zz', { timeout: 3000 }), 4000), ErrorCode.NO_RESPONDERS);
    assert.equal(await rejectionCode(connect(b.url, { token: 'wrong', timeoutMs: 3000 }), 4000), ErrorCode.AUTH_FAILED);
    p.publish('nobody.listens', '');
    await p.flush();
    await waitFor(() => b.broker.status().connections === 2, 3000, 'failed connection gone');

    const st = await get(`${http}/status`);
    assert.equal(st.status, 200);
    assert.match(st.type, /^application\/json/);
    const status = JSON.parse(st.body) as BrokerStatus;
    assert.equal(status.serverId, b.broker.serverId);
    assert.deepEqual(status.listening, [b.url]);
    assert.equal(status.connections, 2);
    assert.equal(status.subscriptions, 3, 'two inboxes and metrics.*');
    assert.equal(status.counters.msgsIn, 7, '5 publishes, 1 request, 1 more publish');
    assert.equal(status.counters.msgsOut, 5);
    assert.equal(status.counters.bytesIn, 5 * 4 + 2);
    assert.equal(status.counters.bytesOut, 5 * 4);
    assert.equal(status.counters.connectionsTotal, 3);
    assert.equal(status.counters.authFailures, 1);
    assert.equal(status.counters.noResponders, 1);
    assert.deepEqual(status.clients.map((x) => [x.name, x.identity, x.transport]).sort(), [
      ['publisher', 'svc', 'tcp'],
      ['subscriber', 'anonymous', 'tcp'],
    ]);
    const pubInfo = status.clients.find((x) => x.name === 'publisher')!;
    assert.equal(pubInfo.msgsIn, 7);
    assert.match(pubInfo.remote, /^127\.0\.0\.1:\d+$/);

    const mt = await get(`${http}/metrics`);
    assert.equal(mt.status, 200);
    assert.match(mt.type, /^text\/plain/);
    assert.match(mt.body, /# TYPE plexus_messages_received_total counter/);
    const metrics = parseMetrics(mt.body);
    assert.equal(metrics.get('plexus_messages_received_total'), 7);
    assert.equal(metrics.get('plexus_messages_delivered_total'), 5);
    assert.equal(metrics.get('plexus_connections_total'), 3);
    assert.equal(metrics.get('plexus_auth_failures_total'), 1);
    assert.equal(metrics.get('plexus_no_responders_total'), 1);
    assert.equal(metrics.get('plexus_connections'), 2);
    assert.equal(metrics.get('plexus_subscriptions'), 3);
    assert.equal(metrics.get('plexus_dropped_messages_total'), 0);
    const pending = [...metrics.keys()].filter((k) => k.startsWith('plexus_pending_bytes{'));
    assert.equal(pending.length, 2);
    assert.ok(pending.some((k) => k.includes('identity="svc"')));

    assert.equal((await get(`${http}/nope`)).status, 404);
    const post = await within(fetch(`${http}/status`, { method: 'POST' }), 3000);
    assert.equal(post.status, 405);
    await post.text();
  });

  it('refuses a non-loopback monitor address with PLEXUS_ERR_CONFIG and releases what it had bound', async (t) => {
    const c = new Cleanup(t);
    const address = `unix://${join(await tempDir(c), 'm.sock')}`;
    assert.equal(await rejectionCode(startBroker({ listen: [address], http: 'http://0.0.0.0:0' }), 3000), ErrorCode.CONFIG);
    // The Unix listener opened before the failure was closed: the path is free again.
    const b = await startTestBroker(c, { listen: [address] });
    assert.equal(b.url, address);
  });
});
