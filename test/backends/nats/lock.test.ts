/**
 * Locks on JetStream KV through the nats:// adapter, beyond the conformance suite: a
 * lease nobody renews expires (its signal fires, the next holder gets a larger token),
 * renewal keeps it past its TTL, release is idempotent, and what is refused.
 * Needs nats-server with JetStream on 127.0.0.1:4222 (fails, not skips, when down).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { ErrorCode, kv, lock, type Bus } from '../../../src/index.js';
import { Cleanup } from '../../helpers/plexus.js';
import { codeOf, rejection, sleep, waitFor, within } from '../../helpers/wait.js';
import { natsTarget } from '../../conformance/targets.js';

const WAIT_MS = 10_000;

async function buses(t: TestContext): Promise<[Bus, Bus, string]> {
  const cleanup = new Cleanup(t);
  const { connect } = await natsTarget.open(cleanup);
  const [a, b, name] = [await connect(), await connect(), `l${randomBytes(8).toString('hex')}`];
  // A lock is the KV bucket plexus-lock-<name> (docs/backends/nats.md): remove it afterwards.
  cleanup.defer(() => kv(a, `plexus-lock-${name}`, { create: false }).destroy().catch(() => undefined));
  return [a, b, name];
}

test('nats lock: an unrenewed lease expires, its signal fires, and the next holder gets a larger token', async (t) => {
  const [a, b, name] = await buses(t);
  const stale = await lock(a, name, { ttlMs: 800, autoRenew: false }).acquire({ timeoutMs: WAIT_MS });
  const next = await within(lock(b, name, { ttlMs: 800 }).acquire({ timeoutMs: WAIT_MS }), WAIT_MS, 'the lock after expiry');
  assert.ok(next.token > stale.token);
  await waitFor(() => stale.lost, WAIT_MS, 'the stale lease to notice');
  assert.equal(codeOf(stale.signal.reason), ErrorCode.LEASE_LOST);
  assert.equal(codeOf(await rejection(stale.renew(), WAIT_MS)), ErrorCode.LEASE_LOST);
  await stale.release(); // idempotent, and does not remove the new holder's record
  assert.equal(await lock(a, name, { ttlMs: 800 }).tryAcquire(), undefined, 'still held by the next holder');
  await next.release();
  await next.release();
  const again = await lock(a, name, { ttlMs: 800 }).tryAcquire();
  assert.ok(again && again.token > next.token);
  await again.release();
});

test('nats lock: a renewed lease outlives its TTL', async (t) => {
  const [a, b, name] = await buses(t);
  const held = await lock(a, name, { ttlMs: 600 }).acquire({ timeoutMs: WAIT_MS });
  await sleep(1500);
  assert.equal(held.lost, false);
  assert.equal(await lock(b, name, { ttlMs: 600 }).tryAcquire(), undefined);
  await held.release();
  assert.equal(held.lost, true);
});

test('nats lock: another ttlMs for an existing lock and info() are refused with NOT_SUPPORTED', async (t) => {
  const [a, , name] = await buses(t);
  const held = await lock(a, name, { ttlMs: 1000 }).acquire({ timeoutMs: WAIT_MS });
  assert.equal(codeOf(await rejection(lock(a, name, { ttlMs: 2000 }).tryAcquire(), WAIT_MS)), ErrorCode.NOT_SUPPORTED);
  assert.equal(codeOf(await rejection(lock(a, name).info(), WAIT_MS)), ErrorCode.NOT_SUPPORTED);
  await held.release();
});
