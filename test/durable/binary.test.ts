import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { consume, durable, startDurableService, DS } from '../../src/durable/index.js';
import { decodeBatch, encodeBatch } from '../../src/durable/batch-format.js';
import { Cleanup, startTestBroker, tempDir } from '../helpers/plexus.js';
import { rejectionCode, thrownCode, within } from '../helpers/wait.js';

void describe('durable service: binary fetch replies', () => {
  void it('fetches a message too large for a JSON reply; a JSON fetch of it is refused and gives it back', async (t) => {
    const cleanup = new Cleanup(t);
    const b = await startTestBroker(cleanup, { via: 'inproc', maxPayloadBytes: 64 * 1024 });
    const dir = await tempDir(cleanup, 'plexus-ds-');
    const svc = await startDurableService({ dir, url: b.url, connect: { inproc: b.hub! } });
    cleanup.defer(() => svc.close());
    const bus = await b.connect();
    const ds = durable(bus, { timeoutMs: 3000 });
    await ds.createStream({ name: 'big', subjects: ['big.x'] });
    // 56 KiB of a 64 KiB max payload: base64 in JSON could carry only about three quarters.
    const big = new Uint8Array(56 * 1024).map((_, i) => i % 251);
    await ds.publish('big.x', big, { headers: { k: 'v' } });
    await ds.createConsumer({ stream: 'big', name: 'c' });
    const json = bus.request(`${DS.CONSUMER_NEXT}.big.c`, JSON.stringify({ batch: 1 }), { timeout: 3000 });
    assert.equal(await rejectionCode(json, 3000), 'PLEXUS_ERR_PAYLOAD_TOO_LARGE');
    const [m] = await ds.fetch('big', 'c', { expiresMs: 1000 });
    assert.ok(m, 'given back at once, not after the ack wait');
    assert.deepEqual(m.data, big);
    assert.equal(m.headers.k, 'v');
    assert.equal(m.deliveryCount, 2);
    await m.nak();
    // The same message through a push session (raw payload per message).
    const it = consume(bus, 'big', 'c', { prefetch: 1 });
    const r = await within(it.next(), 3000, 'pushed');
    assert.deepEqual(r.value!.data, big);
    await r.value!.ack();
    await it.close();
    const [stored] = await ds.read('big');
    assert.deepEqual(stored!.data, big);
  });

  void it('batch format round trip; a malformed batch is a coded error', () => {
    const meta = { seq: 7, subject: 'a.b', headers: { h: '1' }, from: 'bob', timestamp: 1, deliveryCount: 2, ackSubject: 'x' };
    const bytes = encodeBatch([
      { meta, data: new Uint8Array([1, 2, 3]) },
      { meta: { ...meta, seq: 8 }, data: new Uint8Array(0) },
    ]);
    const back = decodeBatch(bytes);
    assert.deepEqual(
      back.map((e) => [e.meta.seq, [...e.data]]),
      [
        [7, [1, 2, 3]],
        [8, []],
      ],
    );
    assert.deepEqual(decodeBatch(encodeBatch([])), []);
    assert.equal(thrownCode(() => decodeBatch(new TextEncoder().encode('[]'))), 'PLEXUS_ERR_DECODE_FAILED');
    assert.equal(thrownCode(() => decodeBatch(bytes.subarray(0, bytes.length - 1))), 'PLEXUS_ERR_DECODE_FAILED');
  });
});
