/**
 * Two small core guarantees: a handler error whose details JSON cannot carry still
 * reaches the caller at once (not after its timeout), and an accepted stream knows the
 * broker-stamped identity of whoever opened it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode, PlexusError } from '../../src/errors/index.js';
import { Cleanup, startTestBroker } from '../helpers/plexus.js';

test('a handler error with unserializable details reaches the caller at once with its code', async (t) => {
  const c = new Cleanup(t);
  const b = await startTestBroker(c, { via: 'inproc' });
  const bus = await b.connect();
  const cyclic: Record<string, unknown> = {};
  cyclic['self'] = cyclic;
  bus.serve('bad.details', () => {
    throw new PlexusError(ErrorCode.INVALID_ARGUMENT, 'no good', { details: { big: 1n, cyclic } as never });
  });
  await bus.flush();
  const started = Date.now();
  const err = await bus.request('bad.details', 'x', { timeout: 5000 }).then(
    () => assert.fail('expected an error'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof PlexusError);
  assert.equal(err.code, ErrorCode.INVALID_ARGUMENT);
  assert.equal(err.message, 'no good');
  assert.deepEqual(err.details, { unserializable: true });
  assert.ok(Date.now() - started < 4000, 'answered before the timeout');
});

test('an accepted stream carries the opener identity stamped by the broker', async (t) => {
  const c = new Cleanup(t);
  const b = await startTestBroker(c, { via: 'inproc', auth: { users: [{ user: 'uploader', token: 'tok-uploader' }, { user: 'sink', token: 'tok-sink' }] } });
  const sink = await b.connect({ token: 'tok-sink' });
  const uploader = await b.connect({ token: 'tok-uploader' });
  const listener = sink.acceptStreams('files.in');
  await sink.flush();
  const opened = uploader.stream('files.in');
  const { value: accepted } = await listener[Symbol.asyncIterator]().next();
  const up = await opened;
  assert.equal(accepted!.peerIdentity, 'uploader');
  assert.equal(up.peerIdentity, '');
  await up.write('hi');
  // end() resolves once the reader has read everything: read at the same time.
  const [, all] = await Promise.all([up.end(), accepted!.readAll()]);
  assert.equal(new TextDecoder().decode(all), 'hi');
});
