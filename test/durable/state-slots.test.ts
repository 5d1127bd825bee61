import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { SlotWriter, decodeSlot, encodeSlot, readNewestSlot } from '../../src/durable/state-slots.js';
import { Cleanup, tempDir } from '../helpers/plexus.js';
import { durableFixture } from './helpers.js';

void describe('durable consumer state slots', () => {
  void it('round-trips, and rejects any truncation or flipped byte', () => {
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 40 }), fc.string(), fc.nat(), (gen, text, at) => {
        const bytes = encodeSlot(gen, JSON.stringify(text));
        assert.deepEqual(decodeSlot(bytes), { generation: gen, json: JSON.stringify(text) });
        assert.equal(decodeSlot(bytes.subarray(0, bytes.length - 1)), undefined);
        const bad = bytes.slice();
        const i = at % bad.length;
        bad[i] = bad[i]! ^ 0x01;
        assert.equal(decodeSlot(bad), undefined);
      }),
    );
  });

  void it('alternates slots; a torn newest slot falls back to the previous state', async (t) => {
    const cleanup = new Cleanup(t);
    const dir = await tempDir(cleanup, 'plexus-slots-');
    const file = join(dir, 'c.json');
    const w = new SlotWriter(file, 0);
    await w.write('{"n":1}');
    await w.write('{"n":2}');
    await w.write('{"n":3}');
    assert.deepEqual((await readdir(dir)).sort(), ['c.json.0', 'c.json.1']);
    assert.deepEqual(await readNewestSlot(file), { generation: 3, json: '{"n":3}' });
    // A longer older save leaves bytes past the payload: they are ignored.
    const w2 = new SlotWriter(file, 3);
    await w2.write('{"n":4,"pad":"xxxxxxxxxxxxxxxxxxxxxxxx"}');
    await w2.write('{"n":5}');
    assert.deepEqual(await readNewestSlot(file), { generation: 5, json: '{"n":5}' });
    // Tear the newest (slot 1: generation 5) as a crash mid-write would.
    const newest = join(dir, 'c.json.1');
    const bytes = await readFile(newest);
    await writeFile(newest, bytes.subarray(0, bytes.length - 3));
    assert.deepEqual(await readNewestSlot(file), { generation: 4, json: '{"n":4,"pad":"xxxxxxxxxxxxxxxxxxxxxxxx"}' });
    assert.equal(await readNewestSlot(join(dir, 'none.json')), undefined);
  });

  void it('a consumer restarts from its newest intact slot', async (t) => {
    const f = await durableFixture(t);
    await f.ds.createStream({ name: 'q', subjects: ['q.x'] });
    await f.ds.createConsumer({ stream: 'q', name: 'c', ackWaitMs: 60_000 });
    for (let i = 0; i < 6; i++) await f.ds.publish('q.x', `m${i}`);
    const a = await f.ds.fetch('q', 'c', { batch: 3 });
    await Promise.all(a.map((m) => m.ack()));
    const b = await f.ds.fetch('q', 'c', { batch: 3 });
    await f.service.close();
    const cdir = join(f.dir, 'streams', 'q', 'consumers');
    assert.deepEqual((await readdir(cdir)).filter((n) => !n.endsWith('.tmp')).sort(), ['c.json', 'c.json.0', 'c.json.1']);
    // Tear the newest slot (the second fetch): the state before it (three acked) is used.
    const newest = await readNewestSlot(join(cdir, 'c.json'));
    assert.ok(newest);
    const path = join(cdir, `c.json.${newest.generation % 2}`);
    const bytes = await readFile(path);
    await writeFile(path, bytes.subarray(0, 30));
    await f.restart();
    const info = await f.ds.consumerInfo('q', 'c');
    assert.equal(info.state.ackFloor, 3, 'acks confirmed before the torn save hold');
    assert.equal(info.state.delivered, 3, 'the torn fetch save is lost: its messages come again');
    const again = await f.ds.fetch('q', 'c', { batch: 10, expiresMs: 100 });
    assert.deepEqual(again.map((m) => m.seq), b.map((m) => m.seq));
  });
});
