/**
 * The NATS adapter against a private nats-server with users and permissions: auth
 * failures, the identity it asserts, and permission refusals as coded errors.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode, connectBus, type Bus, type PlexusError } from '../../src/index.js';
import { Cleanup, take } from '../helpers/plexus.js';
import { codeOf, deferred, rejection, within } from '../helpers/wait.js';
import { startPrivateNats } from './nats-server.js';

const CONFIG = `authorization {
  users = [
    { user: alice, password: secret, permissions: { publish: { deny: ["secret.>"] }, subscribe: { deny: ["secret.>"] } } }
    { user: bob, password: hunter2 }
  ]
}`;

test('nats with users: bad credentials, asserted identity, permission refusals', async (t) => {
  const cleanup = new Cleanup(t);
  const { url } = await startPrivateNats(cleanup, CONFIG);
  const open = async (user: string, pass: string): Promise<Bus> => {
    const bus = await connectBus(url, { user, pass, timeoutMs: 3000, reconnect: false });
    cleanup.defer(() => bus.close());
    return bus;
  };

  assert.equal(codeOf(await rejection(open('alice', 'wrong'), 5000, 'bad password')), ErrorCode.AUTH_FAILED);

  const alice = await open('alice', 'secret');
  const bob = await open('bob', 'hunter2');
  assert.equal(alice.server?.identity, 'alice');

  const inbox = bob.subscribe('hello');
  await bob.flush();
  alice.publish('hello', 'hi');
  const [msg] = await take(inbox, 1, 5000);
  assert.equal(msg!.from, 'alice');

  const refused = deferred<PlexusError>();
  alice.on('error', (err) => refused.resolve(err));
  alice.publish('secret.plans', 'x');
  const err = await within(refused.promise, 5000, 'the publish refusal');
  assert.equal(err.code, ErrorCode.PERMISSION_DENIED);
  assert.match(err.message, /secret\.plans/);

  const denied = alice.subscribe('secret.>');
  const subErr = await rejection(take(denied, 1, 5000), 6000, 'the subscribe refusal');
  assert.equal(codeOf(subErr), ErrorCode.PERMISSION_DENIED);
  assert.equal(alice.status, 'open', 'a refusal does not close the connection');
});
