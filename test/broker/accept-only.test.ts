import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, defaultTransports, startBroker, type TransportTable } from '../../src/index.js';
import { inprocPair } from '../../src/transports/index.js';
import { within } from '../helpers/wait.js';

test('a broker with no listeners serves connections handed to accept()', async (t) => {
  const broker = await startBroker({ listen: [] });
  t.after(() => broker.close({ drainMs: 100 }));
  assert.deepEqual(broker.urls, []);
  const [clientEnd, brokerEnd] = inprocPair('accept-only');
  broker.accept(brokerEnd);
  const table: TransportTable = {
    ...defaultTransports,
    'pipe:': { dial: async () => clientEnd, listen: async () => Promise.reject(new Error('dial only')) },
  };
  const bus = await connect('pipe://accept-only', { transports: table, reconnect: false });
  t.after(() => bus.close());
  bus.serve('echo', (m) => m.data);
  assert.equal((await within(bus.request('echo', 'hi'), 3000)).string(), 'hi');
});
