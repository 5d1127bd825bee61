/** The broker's service registry: registration tied to the connection, events, limits. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RegistrySubject, type InstanceRecord, type RegistryEvent } from '../../src/broker/registry.js';
import { ErrorCode } from '../../src/errors/index.js';
import { FrameType, Flag } from '../../src/wire/index.js';
import { Cleanup, startTestBroker, take } from '../helpers/plexus.js';
import { RawClient, json } from '../helpers/raw.js';
import { rejectionCode, waitFor, within } from '../helpers/wait.js';

const reg = (body: Record<string, unknown>) => JSON.stringify({ version: '1.0.0', ...body });

describe('service registry (broker)', { timeout: 30_000 }, () => {
  it('registers, lists, stamps the owner, and announces up/down', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c);
    const watcher = await b.connect();
    const events = watcher.subscribe(`${RegistrySubject.EVENTS}.>`);
    await watcher.flush();
    const svc = await b.connect({ name: 'rides-1' });
    const reply = await svc.request(RegistrySubject.REGISTER, reg({ id: 'r1', name: 'rides', endpoints: ['rides.path'], metadata: { zone: 'eu' } }));
    const rec = reply.json<{ instance: InstanceRecord }>().instance;
    assert.equal(rec.id, 'r1');
    assert.equal(rec.identity, 'anonymous');
    assert.match(rec.connId, /-\d+$/);
    assert.deepEqual(rec.endpoints, ['rides.path']);
    assert.deepEqual(rec.metadata, { zone: 'eu' });

    const listed = (await watcher.request(RegistrySubject.LIST, JSON.stringify({ name: 'rides' }))).json<{ instances: InstanceRecord[] }>();
    assert.deepEqual(listed.instances.map((i) => i.id), ['r1']);
    const none = (await watcher.request(RegistrySubject.LIST, JSON.stringify({ name: 'other' }))).json<{ instances: InstanceRecord[] }>();
    assert.equal(none.instances.length, 0);

    await svc.close();
    const [up, down] = (await take(events, 2, 3000)).map((m) => m.json<RegistryEvent>());
    assert.equal(up!.type, 'up');
    assert.equal(up!.instance.id, 'r1');
    assert.equal(down!.type, 'down');
    assert.equal(down!.reason, 'disconnected');
    assert.ok(down!.rev > up!.rev);
    const after = (await watcher.request(RegistrySubject.LIST, '{}')).json<{ instances: InstanceRecord[] }>();
    assert.equal(after.instances.length, 0);
  });

  it('only the owning connection can deregister; ids are unique across connections', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c);
    const a = await b.connect();
    const other = await b.connect();
    await a.request(RegistrySubject.REGISTER, reg({ id: 'x1', name: 'svc' }));
    assert.equal(await rejectionCode(other.request(RegistrySubject.DEREGISTER, JSON.stringify({ id: 'x1' })), 3000), ErrorCode.INSTANCE_NOT_FOUND);
    assert.equal(await rejectionCode(other.request(RegistrySubject.REGISTER, reg({ id: 'x1', name: 'svc' })), 3000), ErrorCode.INSTANCE_EXISTS);
    // The owner may register it again (an update) and remove it.
    const updated = await a.request(RegistrySubject.REGISTER, reg({ id: 'x1', name: 'svc', version: '1.1.0' }));
    assert.equal(updated.json<{ instance: InstanceRecord }>().instance.version, '1.1.0');
    await a.request(RegistrySubject.DEREGISTER, JSON.stringify({ id: 'x1' }));
    assert.equal(b.broker.status().registry.instances, 0);
  });

  it('refuses forged events, bad registrations, and registrations past the limits', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { registry: { maxInstancesPerConnection: 2, maxMetadataBytes: 64 } });
    const a = await b.connect();
    const errors: string[] = [];
    a.on('error', (e) => errors.push(e.code));
    const listener = await b.connect();
    const events = listener.subscribe(`${RegistrySubject.EVENTS}.>`);
    await listener.flush();
    a.publish(`${RegistrySubject.EVENTS}.svc`, JSON.stringify({ type: 'up', rev: 1, instance: { id: 'fake' } }));
    await a.flush();
    await waitFor(() => errors.includes(ErrorCode.PERMISSION_DENIED), 3000, 'the forged event refused');
    assert.equal(await rejectionCode(a.request(RegistrySubject.REGISTER, reg({ id: 'has space', name: 'svc' })), 3000), ErrorCode.INVALID_ARGUMENT);
    assert.equal(await rejectionCode(a.request(RegistrySubject.REGISTER, reg({ id: 'ok', name: 'bad..name' })), 3000), ErrorCode.INVALID_ARGUMENT);
    assert.equal(await rejectionCode(a.request(RegistrySubject.REGISTER, reg({ id: 'ok', name: 'svc', endpoints: ['a.*'] })), 3000), ErrorCode.INVALID_ARGUMENT);
    assert.equal(await rejectionCode(a.request(RegistrySubject.REGISTER, 'not json'), 3000), ErrorCode.INVALID_ARGUMENT);
    assert.equal(
      await rejectionCode(a.request(RegistrySubject.REGISTER, reg({ id: 'big', name: 'svc', metadata: { blob: 'x'.repeat(100) } })), 3000),
      ErrorCode.REGISTRY_LIMIT,
    );
    await a.request(RegistrySubject.REGISTER, reg({ id: 'i1', name: 'svc' }));
    await a.request(RegistrySubject.REGISTER, reg({ id: 'i2', name: 'svc' }));
    assert.equal(await rejectionCode(a.request(RegistrySubject.REGISTER, reg({ id: 'i3', name: 'svc' })), 3000), ErrorCode.REGISTRY_LIMIT);
    // The listener saw the two real registrations and never the forged one.
    const seen = (await take(events, 2, 3000)).map((m) => m.json<RegistryEvent>().instance.id);
    assert.deepEqual(seen, ['i1', 'i2']);
    assert.equal(events.pending, 0);
  });

  it('stamps the authenticated identity; registering needs publish permission; maxInstances is broker-wide', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, {
      registry: { maxInstances: 2 },
      auth: {
        users: [
          { user: 'rides-svc', token: 'tok-rides' },
          { user: 'viewer', token: 'tok-view', permissions: { publish: { deny: ['$PLX.REG.REGISTER'] } } },
        ],
      },
    });
    const svc = await b.connect({ token: 'tok-rides' });
    const viewer = await b.connect({ token: 'tok-view' });
    const rec = (await svc.request(RegistrySubject.REGISTER, reg({ id: 'a1', name: 'rides' }))).json<{ instance: InstanceRecord }>().instance;
    assert.equal(rec.identity, 'rides-svc');
    assert.equal(await rejectionCode(viewer.request(RegistrySubject.REGISTER, reg({ id: 'v1', name: 'rides' })), 3000), ErrorCode.PERMISSION_DENIED);
    // Listing is still allowed to the viewer.
    const listed = (await viewer.request(RegistrySubject.LIST, '{}')).json<{ instances: InstanceRecord[] }>();
    assert.deepEqual(listed.instances.map((i) => [i.id, i.identity]), [['a1', 'rides-svc']]);
    const other = await b.connect({ token: 'tok-rides' });
    await other.request(RegistrySubject.REGISTER, reg({ id: 'a2', name: 'rides' }));
    assert.equal(await rejectionCode(other.request(RegistrySubject.REGISTER, reg({ id: 'a3', name: 'rides' })), 3000), ErrorCode.REGISTRY_LIMIT);
  });

  it('an instance whose connection misses its heartbeats goes down', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { heartbeatMs: 200 });
    const watcher = await b.connect();
    const events = watcher.subscribe(`${RegistrySubject.EVENTS}.silent`);
    await watcher.flush();
    // A raw client registers and then never answers a PING.
    const raw = await RawClient.connect(c, b.url);
    await raw.hello();
    raw.send({ type: FrameType.SUB, id: 1, subject: '_INBOX.raw.>' });
    raw.send({ type: FrameType.PUB, flags: Flag.REQUEST, subject: RegistrySubject.REGISTER, reply: '_INBOX.raw.1', payload: json({ id: 's1', name: 'silent', version: '1.0.0' }) });
    await raw.waitFrame((f) => f.type === FrameType.MSG && f.subject === '_INBOX.raw.1', 3000, 'the REGISTER reply');
    const healthOf = async (): Promise<string | undefined> =>
      (await watcher.request(RegistrySubject.LIST, JSON.stringify({ name: 'silent' }))).json<{ instances: InstanceRecord[] }>().instances[0]?.health?.status;
    assert.equal(await healthOf(), 'ok');
    // Silent past one interval: listed as late before it is dropped (after three).
    await waitFor(async () => (await healthOf()) === 'late', 3000, 'the silent instance to show as late');
    const [up, down] = (await take(events, 2, 5000)).map((m) => m.json<RegistryEvent>());
    assert.equal(up!.type, 'up');
    assert.equal(down!.type, 'down');
    assert.equal(down!.reason, ErrorCode.HEARTBEAT_TIMEOUT);
    await within(raw.waitClosed(3000), 3500, 'raw close');
  });

  it('shows the registry in /status and /metrics', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c, { http: 'http://127.0.0.1:0' });
    const a = await b.connect();
    await a.request(RegistrySubject.REGISTER, reg({ id: 'm1', name: 'monitored', version: '3.2.1' }));
    const status = (await (await fetch(`${b.broker.httpUrl}/status`)).json()) as { registry: { instances: number; services: { name: string; version: string; id: string }[] } };
    assert.equal(status.registry.instances, 1);
    assert.deepEqual(
      status.registry.services.map((s) => [s.name, s.version, s.id]),
      [['monitored', '3.2.1', 'm1']],
    );
    const metrics = await (await fetch(`${b.broker.httpUrl}/metrics`)).text();
    assert.match(metrics, /^plexus_service_instances 1$/m);
  });
});
