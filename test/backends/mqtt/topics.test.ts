import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectBus, ErrorCode } from '../../../src/index.js';
import { checkMqttSubject, sharedFilter, subjectToTopic, topicToSubject } from '../../../src/backends/mqtt/topics.js';
import { Cleanup, take } from '../../helpers/plexus.js';
import { thrownCode } from '../../helpers/wait.js';
import { mqttTarget } from '../../conformance/mqtt-target.js';

test('subjects map to MQTT topics and back; wildcards become + and #', () => {
  assert.equal(subjectToTopic('a.b.c'), 'a/b/c');
  assert.equal(subjectToTopic('a.*.c'), 'a/+/c');
  assert.equal(subjectToTopic('a.>'), 'a/#');
  assert.equal(topicToSubject('a/b/c'), 'a.b.c');
  assert.equal(sharedFilter('workers', 'a/+'), '$share/workers/a/+');
});

test('subjects MQTT cannot carry are refused with PLEXUS_ERR_INVALID_SUBJECT', () => {
  for (const bad of ['a/b', 'a.+', 'a.#', '$SYS.x', 'a\u0000b']) {
    assert.equal(thrownCode(() => checkMqttSubject(bad, true)), ErrorCode.INVALID_SUBJECT, JSON.stringify(bad));
  }
  assert.equal(thrownCode(() => sharedFilter('a/b', 'x')), ErrorCode.INVALID_ARGUMENT);
});

test("'>' does not match its parent level although MQTT '#' does; overlapping subscriptions each get one copy", async (t) => {
  const cleanup = new Cleanup(t);
  const target = await mqttTarget.open(cleanup);
  const [pub, sub] = [await target.connect(), await target.connect()];
  const p = target.prefix;
  const tail = sub.subscribe(`${p}.>`);
  const twin = sub.subscribe(`${p}.>`);
  const exact = sub.subscribe(`${p}.a`);
  await sub.flush();
  pub.publish(p, 'parent');
  pub.publish(`${p}.a`, 'child');
  await pub.flush();
  await sub.flush();
  assert.deepEqual((await take(tail, 1, 5000)).map((m) => m.string()), ['child']);
  assert.deepEqual((await take(twin, 1, 5000)).map((m) => m.string()), ['child']);
  assert.deepEqual((await take(exact, 1, 5000)).map((m) => m.string()), ['child']);
  assert.equal(tail.pending, 0, 'no parent-level message and no duplicate');
  assert.equal(exact.pending, 0);
});

test("MQTT topic syntax in a subject and overflow 'block' are refused", async (t) => {
  const cleanup = new Cleanup(t);
  await mqttTarget.open(cleanup);
  const bus = await connectBus('mqtt://127.0.0.1:1883', { timeoutMs: 3000 });
  cleanup.defer(() => bus.close());
  assert.equal(thrownCode(() => bus.publish('sensors/1', 'x')), ErrorCode.INVALID_SUBJECT);
  assert.equal(thrownCode(() => bus.subscribe('x', { overflow: 'block' })), ErrorCode.NOT_SUPPORTED);
});
