import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { defineService, methodSubject, serveService, serviceClient, type LogSink } from '../../src/contract/index.js';
import { ErrorCode } from '../../src/errors/index.js';
import { Cleanup, startTestBroker } from '../helpers/plexus.js';
import { codeOf, deferred, rejection, rejectionCode, waitFor, within } from '../helpers/wait.js';

const quiet: LogSink = () => {};
const svc = defineService('lifecycle', {
  version: '3.2.1',
  methods: { work: { input: z.number(), output: z.number() }, whoami: { input: z.null(), output: z.string() } },
});

void describe('typed services: server life and plumbing', () => {
  void it('close() waits for running handlers, then the service is gone', async (t) => {
    const cleanup = new Cleanup(t);
    const b = await startTestBroker(cleanup);
    const started = deferred();
    const release = deferred();
    const srv = serveService(
      await b.connect(),
      svc,
      {
        work: async (x) => {
          started.resolve();
          await release.promise;
          return x + 1;
        },
        whoami: () => 'x',
      },
      { log: quiet, register: false },
    );
    await srv.ready();
    const client = serviceClient(await b.connect(), svc);
    const call = client.work(1);
    await within(started.promise, 2000);
    assert.equal(srv.running, 1);
    let closed = false;
    const closing = srv.close().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(closed, false, 'close waits for the running handler');
    release.resolve();
    assert.equal(await within(call, 2000), 2);
    await within(closing, 2000);
    await within(srv.closed, 100);
    assert.equal(await rejectionCode(client.work(1), 2000), ErrorCode.NO_RESPONDERS);
  });

  void it('an aborted signal closes the server; onStart runs and its cleanup runs on close', async (t) => {
    const cleanup = new Cleanup(t);
    const b = await startTestBroker(cleanup);
    const ac = new AbortController();
    const events: string[] = [];
    const srv = serveService(
      await b.connect(),
      svc,
      { work: (x) => x, whoami: () => 'x' },
      {
        log: quiet,
        register: false,
        signal: ac.signal,
        onStart: (s) => {
          events.push(`start ${s.contract.name} ${Object.values(s.subjects).join(',')}`);
          return () => void events.push('stop');
        },
      },
    );
    await srv.ready();
    assert.deepEqual(events, ['start lifecycle $SRV.lifecycle.3.work,$SRV.lifecycle.3.whoami']);
    ac.abort();
    await within(srv.closed, 2000);
    assert.deepEqual(events.at(-1), 'stop');
  });

  void it('an unknown content type is PLEXUS_ERR_DECODE_FAILED; the request id travels to the handler', async (t) => {
    const cleanup = new Cleanup(t);
    const b = await startTestBroker(cleanup);
    let seenId = '';
    const srv = serveService(await b.connect(), svc, { work: (x) => x, whoami: (_n, ctx) => (seenId = ctx.requestId) }, { log: quiet, register: false });
    cleanup.defer(() => srv.close());
    await srv.ready();
    const caller = await b.connect();
    const err = await rejection(caller.request(methodSubject(svc, 'work'), '1', { headers: { 'content-type': 'text/yaml' } }), 2000);
    assert.equal(codeOf(err), ErrorCode.DECODE_FAILED);
    assert.equal(await serviceClient(caller, svc).whoami(null, { headers: { 'request-id': 'abc-1' } }), 'abc-1');
    assert.equal(seenId, 'abc-1');
    // Without one, the handler makes one up.
    const made = await serviceClient(caller, svc).whoami(null);
    assert.match(made, /^[0-9a-f-]{36}$/);
    await waitFor(() => srv.stats().work?.errors === 1, 1000, 'decode failure counted');
  });
});
