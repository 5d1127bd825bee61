import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConnectOptions } from '../../src/client/options.js';
import { PlexusError } from '../../src/index.js';

test('connect options are range-checked with a coded error naming the option', () => {
  for (const bad of [{ timeoutMs: -1 }, { timeoutMs: Number.NaN }, { requestTimeoutMs: 2 ** 31 }, { heartbeatMs: 0 }, { maxOutboundBytes: 0 }, { reconnectDelayMs: Infinity }]) {
    assert.throws(
      () => resolveConnectOptions(bad),
      (e: unknown) => e instanceof PlexusError && e.code === 'PLEXUS_ERR_INVALID_ARGUMENT' && e.message.includes(Object.keys(bad)[0]!),
      JSON.stringify(bad),
    );
  }
  const ok = resolveConnectOptions({ maxReconnectAttempts: Infinity, requestTimeoutMs: 0 });
  assert.equal(ok.maxReconnectAttempts, Infinity);
  assert.equal(ok.requestTimeoutMs, 0);
  assert.equal(resolveConnectOptions({}).timeoutMs, 5000);
});
