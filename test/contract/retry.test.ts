import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { defineService, isRetryable, serveService, serviceClient, type LogSink } from '../../src/contract/index.js';
import { ErrorCode, PlexusError } from '../../src/errors/index.js';
import { Cleanup, startTestBroker } from '../helpers/plexus.js';
import { deferred, rejectionCode, sleep, within } from '../helpers/wait.js';

const quiet: LogSink = () => {};
const svc = defineService('flaky', {
  version: '1.0.0',
  methods: {
    get: { input: z.number(), output: z.number(), idempotent: true },
    put: { input: z.number(), output: z.number() },
  },
});

void describe('typed services: retries', () => {
  void it('retries an idempotent method until an instance appears', async (t) => {
    const cleanup = new Cleanup(t);
    const b = await startTestBroker(cleanup);
    const caller = await b.connect();
    const serverConn = await b.connect();
    const client = serviceClient(caller, svc);
    const call = client.get(7, { retry: { attempts: 8, backoffMs: 40, maxBackoffMs: 80 }, timeoutMs: 5000 });
    await sleep(60); // at least one try has met NO_RESPONDERS by now
    const srv = serveService(serverConn, svc, { get: (x) => x * 2, put: (x) => x }, { log: quiet });
    cleanup.defer(() => srv.close());
    assert.equal(await within(call, 5000, 'retried call'), 14);
    assert.equal(srv.stats().get?.requests, 1);
  });

  void it('does not retry non-idempotent methods, nor with retry: false', async (t) => {
    const cleanup = new Cleanup(t);
    const b = await startTestBroker(cleanup);
    const client = serviceClient(await b.connect(), svc, { retry: { attempts: 5, backoffMs: 5000, maxBackoffMs: 5000 } });
    const t0 = Date.now();
    assert.equal(await rejectionCode(client.put(1), 2000), ErrorCode.NO_RESPONDERS);
    assert.equal(await rejectionCode(client.get(1, { retry: false }), 2000), ErrorCode.NO_RESPONDERS);
    // Both failed on the first answer: a retry would have waited at least 2.5 s first.
    assert.ok(Date.now() - t0 < 2400, `took ${Date.now() - t0} ms`);
  });

  void it('never waits for a retry past the deadline', async (t) => {
    const cleanup = new Cleanup(t);
    const b = await startTestBroker(cleanup);
    const client = serviceClient(await b.connect(), svc);
    const t0 = Date.now();
    // Backoff of ≥ 2.5 s against a 2 s deadline: the first failure is final, and it comes
    // before the deadline (a retry would have slept past it).
    assert.equal(await rejectionCode(client.get(1, { timeoutMs: 2000, retry: { attempts: 5, backoffMs: 5000, maxBackoffMs: 5000 } }), 4000), ErrorCode.NO_RESPONDERS);
    assert.ok(Date.now() - t0 < 1900, `took ${Date.now() - t0} ms`);
  });

  void it('refuses bad retry options, and classifies retryable codes', async (t) => {
    const cleanup = new Cleanup(t);
    const b = await startTestBroker(cleanup);
    const client = serviceClient(await b.connect(), svc);
    assert.equal(await rejectionCode(client.get(1, { retry: { attempts: 0 } }), 1000), ErrorCode.INVALID_ARGUMENT);
    assert.equal(await rejectionCode(client.get(1, { retry: { attempts: 1000 } }), 1000), ErrorCode.INVALID_ARGUMENT);
    assert.equal(isRetryable(new PlexusError(ErrorCode.NO_RESPONDERS, 'x')), true);
    assert.equal(isRetryable(new PlexusError(ErrorCode.RESPONDER_GONE, 'x')), true);
    assert.equal(isRetryable(new PlexusError(ErrorCode.TIMEOUT, 'x')), false);
    assert.equal(isRetryable(new Error('x')), false);
  });

  void it('an idempotent call whose instance dies mid-request is retried on another instance', async (t) => {
    const cleanup = new Cleanup(t);
    const b = await startTestBroker(cleanup);
    const doomedConn = await b.connect();
    const started = deferred();
    const doomed = serveService(doomedConn, svc, { get: () => (started.resolve(), new Promise<number>(() => {})), put: (x) => x }, { log: quiet, register: false });
    await doomed.ready();
    const client = serviceClient(await b.connect(), svc);
    const call = client.get(5, { timeoutMs: 10_000 });
    await within(started.promise, 3000, 'the doomed instance took the call');
    const healthy = serveService(await b.connect(), svc, { get: (x) => x * 3, put: (x) => x }, { log: quiet, register: false });
    cleanup.defer(() => healthy.close());
    await healthy.ready();
    await doomedConn.close(); // the broker answers RESPONDER_GONE for the request it held
    assert.equal(await within(call, 5000, 'retried call'), 15);
    assert.equal(healthy.stats().get?.requests, 1);
  });
});
