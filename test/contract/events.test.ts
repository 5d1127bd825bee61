import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServiceError, eventSubject, publishEvent, subscribeEvent, type ContractEvent } from '../../src/contract/index.js';
import { ErrorCode } from '../../src/errors/index.js';
import { Cleanup, startTestBroker, take } from '../helpers/plexus.js';
import { rejection, waitFor } from '../helpers/wait.js';
import { rides } from './fixtures.js';

void describe('typed services: events', () => {
  void it('publishes validated events and delivers them typed, with the publisher stamped', async (t) => {
    const cleanup = new Cleanup(t);
    const b = await startTestBroker(cleanup);
    const pub = await b.connect();
    const sub = await b.connect();
    const events = subscribeEvent(sub, rides, 'rideBooked');
    cleanup.defer(() => events.unsubscribe());
    await sub.flush();
    await publishEvent(pub, rides, 'rideBooked', { id: 'r1', rider: 'ann' });
    await publishEvent(pub, rides, 'rideBooked', { id: 'r2', rider: 'bob' }, { codec: 'msgpack' });
    const got: ContractEvent<{ id: string; rider: string }>[] = await take(events, 2, 3000);
    assert.deepEqual(got.map((e) => e.data), [{ id: 'r1', rider: 'ann' }, { id: 'r2', rider: 'bob' }]);
    assert.equal(got[0]!.subject, '$EVT.rides.2.rideBooked');
    assert.ok(got[0]!.from.length > 0);
    assert.equal(got[1]!.headers['content-type'], 'application/msgpack');
  });

  void it('refuses an invalid payload before publishing; drops and counts invalid ones on arrival', async (t) => {
    const cleanup = new Cleanup(t);
    const b = await startTestBroker(cleanup);
    const pub = await b.connect();
    const sub = await b.connect();
    const bad: unknown[] = [];
    const seen: string[] = [];
    const events = subscribeEvent(sub, rides, 'rideBooked', { callback: (e) => seen.push(e.data.id), onInvalid: (err) => bad.push(err) });
    cleanup.defer(() => events.unsubscribe());
    await sub.flush();
    const err = await rejection(publishEvent(pub, rides, 'rideBooked', { id: 'r1' } as never), 2000);
    assert.ok(err instanceof ServiceError);
    assert.equal(err.code, ErrorCode.VALIDATION);
    // A raw publisher bypassing the contract: dropped on arrival, counted, reported.
    pub.publish(eventSubject(rides, 'rideBooked'), JSON.stringify({ id: 5 }));
    pub.publish(eventSubject(rides, 'rideBooked'), 'not json');
    await publishEvent(pub, rides, 'rideBooked', { id: 'ok', rider: 'cy' });
    await waitFor(() => seen.length === 1 && bad.length === 2, 3000, 'events sorted');
    assert.deepEqual(seen, ['ok']);
    assert.equal(events.invalid, 2);
    assert.equal((bad[0] as ServiceError).code, ErrorCode.VALIDATION);
    assert.equal((bad[1] as { code?: string }).code, ErrorCode.DECODE_FAILED);
  });
});
