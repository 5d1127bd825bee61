import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { test } from 'node:test';
import { ErrorCode, PlexusError } from '../../src/errors/index.js';
import { Cleanup } from '../helpers/plexus.js';
import { waitFor } from '../helpers/wait.js';
import { call, startCatalog } from './fixtures.js';

test('POST calls the method; headers pass through only when allowed; the caller is the gateway', async (t) => {
  const cleanup = new Cleanup(t);
  const { gateway } = await startCatalog(cleanup);
  const r = await call(`${gateway.url}/api/catalog/buy`, {
    json: { id: 7, qty: 2 },
    headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'request-id': 'req-1', 'x-plexus-caller': 'mallory', cookie: 'secret=1' },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.headers.get('content-type'), 'application/json; charset=utf-8');
  assert.equal(r.headers.get('request-id'), 'req-1');
  assert.equal(r.body['order'], 'o-7-2');
  assert.equal(r.body['caller'], 'gw');
  const h = r.body['headers'] as Record<string, string>;
  assert.equal(h['traceparent'], '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
  assert.equal(h['request-id'], 'req-1');
  assert.equal(h['x-plexus-caller'], undefined, 'a client cannot claim an identity');
  assert.equal(h['cookie'], undefined, 'only listed headers are forwarded');

  const tooLong = await call(`${gateway.url}/api/catalog/buy`, { json: { id: 1, qty: 1 }, headers: { 'request-id': 'x'.repeat(200) } });
  assert.match(tooLong.headers.get('request-id') ?? '', /^[0-9a-f-]{36}$/, 'an unreasonable id is replaced');
  const generated = await call(`${gateway.url}/api/catalog/buy`, { json: { id: 1, qty: 1 } });
  assert.match(generated.headers.get('request-id') ?? '', /^[0-9a-f-]{36}$/);
  assert.equal((generated.body['headers'] as Record<string, string>)['request-id'], generated.headers.get('request-id'));
});

test('GET works only for safe methods, with the query coerced by the input schema', async (t) => {
  const cleanup = new Cleanup(t);
  const { gateway } = await startCatalog(cleanup);
  const r = await call(`${gateway.url}/api/catalog/search?q=lamp&limit=1&inStock=true&tags=a&tags=b`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, { items: [{ id: 1, name: 'lamp one' }], echo: { q: 'lamp', limit: 1, inStock: true, tags: ['a', 'b'] } });
  // One value for an array property is still an array.
  const one = await call(`${gateway.url}/api/catalog/search?q=x&tags=solo`);
  assert.deepEqual((one.body['echo'] as Record<string, unknown>)['tags'], ['solo']);
  // valibot schemas too (converted by introspection).
  const level = await call(`${gateway.url}/api/stock/level?sku=abc&warehouse=south`);
  assert.deepEqual(level.body, { sku: 'abc', level: 0 });

  const notSafe = await call(`${gateway.url}/api/catalog/buy?id=1&qty=1`);
  assert.equal(notSafe.status, 405);
  assert.equal(notSafe.headers.get('allow'), 'POST');
  assert.equal(notSafe.body['code'], ErrorCode.METHOD_NOT_ALLOWED);
  const put = await call(`${gateway.url}/api/catalog/search`, { method: 'PUT', json: { q: 'x' } });
  assert.equal(put.status, 405);
  assert.equal(put.headers.get('allow'), 'GET, POST');
});

test('validation failures are 400 with the schema issues; bad bodies are 400/413/415', async (t) => {
  const cleanup = new Cleanup(t);
  const { gateway } = await startCatalog(cleanup, { maxBodyBytes: 64 });
  const bad = await call(`${gateway.url}/api/catalog/buy`, { json: { id: 'seven', qty: 0 } });
  assert.equal(bad.status, 400);
  assert.equal(bad.body['code'], ErrorCode.VALIDATION);
  const issues = (bad.body['details'] as { issues: { path: string[] }[] }).issues;
  assert.deepEqual(issues.map((i) => i.path.join('.')).sort(), ['id', 'qty']);

  const badQuery = await call(`${gateway.url}/api/catalog/search?q=x&limit=lots`);
  assert.equal(badQuery.status, 400);
  assert.equal(badQuery.body['code'], ErrorCode.VALIDATION);

  const big = await call(`${gateway.url}/api/catalog/buy`, { json: { id: 1, qty: 1, pad: 'x'.repeat(100) } });
  assert.equal(big.status, 413);
  assert.equal(big.body['code'], ErrorCode.PAYLOAD_TOO_LARGE);
  assert.deepEqual(big.body['details'], { maxBytes: 64 });

  const notJson = await call(`${gateway.url}/api/catalog/buy`, { method: 'POST', body: '{"id":', headers: { 'content-type': 'application/json' } });
  assert.equal(notJson.status, 400);
  assert.equal(notJson.body['code'], ErrorCode.DECODE_FAILED);
  const text = await call(`${gateway.url}/api/catalog/buy`, { method: 'POST', body: 'id=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(text.status, 415);
  assert.equal(text.body['code'], ErrorCode.UNSUPPORTED_MEDIA_TYPE);
});

test('a chunked body is cut off at the limit without reading the rest', async (t) => {
  const cleanup = new Cleanup(t);
  const { gateway } = await startCatalog(cleanup, { maxBodyBytes: 1024 });
  const url = new URL(`${gateway.url}/api/catalog/buy`);
  const status = await new Promise<number>((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('no answer')));
    // No content-length: the gateway must count as it reads. Keep writing past the limit.
    let sent = 0;
    const pump = (): void => {
      while (sent < 64 * 1024 && !req.destroyed) {
        sent += 512;
        if (!req.write('x'.repeat(512))) return void req.once('drain', pump);
      }
    };
    pump();
  });
  assert.equal(status, 413);
});

test('errors map to statuses: not found, no responders, service codes, hidden internals', async (t) => {
  const cleanup = new Cleanup(t);
  const { gateway, observed } = await startCatalog(cleanup, { statusOverrides: { TEAPOT_EMPTY: 418 }, onError: () => {} });
  const missing = await call(`${gateway.url}/api/catalog/nope`, { json: {} });
  assert.equal(missing.status, 404);
  assert.equal(missing.body['code'], ErrorCode.ROUTE_NOT_FOUND);
  const streaming = await call(`${gateway.url}/api/ghost/upload`, { json: {} });
  assert.equal(streaming.status, 404);
  assert.match(String(streaming.body['message']), /client-streaming/);

  const nobody = await call(`${gateway.url}/api/ghost/boo`, { json: {} });
  assert.equal(nobody.status, 503);
  assert.equal(nobody.body['code'], ErrorCode.NO_RESPONDERS);

  const notFound = await call(`${gateway.url}/api/catalog/buy`, { json: { id: 404, qty: 1 } });
  assert.equal(notFound.status, 404);
  assert.deepEqual(notFound.body, { code: 'ITEM_NOT_FOUND', message: 'no item 404', details: { id: 404 } });

  const cases: [string, number][] = [
    ['RIDE_UNAVAILABLE', 503],
    ['ORDER_CONFLICT', 409],
    ['INVALID_COUPON', 400],
    ['OUT_OF_STOCK', 422],
    ['TEAPOT_EMPTY', 418],
    ['plexus', 403],
  ];
  for (const [code, status] of cases) {
    const r = await call(`${gateway.url}/api/catalog/fail`, { json: { code } });
    assert.equal(r.status, status, `${code}: ${JSON.stringify(r.body)}`);
  }
  const bug = await call(`${gateway.url}/api/catalog/fail`, { json: { code: 'bug' } });
  assert.equal(bug.status, 500);
  assert.equal(bug.body['code'], ErrorCode.INTERNAL);
  assert.doesNotMatch(JSON.stringify(bug.body), /secret internals/);
  assert.ok(observed.logs.some((l) => String(l['error']).includes('secret internals')), 'the service logged the real error');
});

test('the deadline header is honoured and capped; the handler is aborted with TIMEOUT', async (t) => {
  const cleanup = new Cleanup(t);
  const { gateway, observed } = await startCatalog(cleanup, { maxTimeoutMs: 400 });
  const r = await call(`${gateway.url}/api/catalog/slow?ms=5000`, { headers: { 'x-plexus-timeout-ms': '150' } });
  assert.equal(r.status, 504);
  assert.equal(r.body['code'], ErrorCode.TIMEOUT);
  await waitFor(() => observed.aborted !== undefined, 5000, 'handler abort');
  assert.equal((observed.aborted as PlexusError).code, ErrorCode.TIMEOUT);

  // Asking for 100 s still ends at the 400 ms cap.
  const capped = await call(`${gateway.url}/api/catalog/slow?ms=5000`, { headers: { 'x-plexus-timeout-ms': '100000' } });
  assert.equal(capped.status, 504);
  const fast = await call(`${gateway.url}/api/catalog/slow?ms=1`, { headers: { 'x-plexus-timeout-ms': '100000' } });
  assert.equal(fast.status, 200);
  for (const bad of ['abc', '0', '-5', '1.5']) {
    const r2 = await call(`${gateway.url}/api/catalog/slow?ms=1`, { headers: { 'x-plexus-timeout-ms': bad } });
    assert.equal(r2.status, 400, bad);
    assert.equal(r2.body['code'], ErrorCode.INVALID_ARGUMENT);
  }
});

test('an HTTP client that hangs up cancels the call all the way to the handler', async (t) => {
  const cleanup = new Cleanup(t);
  const { gateway, observed } = await startCatalog(cleanup);
  const ac = new AbortController();
  const pending = fetch(`${gateway.url}/api/catalog/slow?ms=20000`, { signal: ac.signal }).catch((err: unknown) => err);
  await waitFor(() => observed.slowStarted === 1, 5000, 'handler start');
  ac.abort();
  await pending;
  await waitFor(() => observed.aborted !== undefined, 5000, 'handler abort');
  assert.equal((observed.aborted as PlexusError).code, ErrorCode.CANCELLED);
  await waitFor(() => gateway.inFlight === 0, 5000, 'in-flight back to 0');
});

test('authenticate decides the HTTP caller (401 without), passed on as x-plexus-caller', async (t) => {
  const cleanup = new Cleanup(t);
  const tokens: Record<string, string> = { 'Bearer alice-token': 'alice' };
  const { gateway } = await startCatalog(cleanup, {
    authenticate: (req) => tokens[req.headers.authorization ?? ''],
  });
  const anon = await call(`${gateway.url}/api/catalog/buy`, { json: { id: 1, qty: 1 } });
  assert.equal(anon.status, 401);
  assert.equal(anon.body['code'], ErrorCode.AUTH_FAILED);
  assert.equal(anon.headers.get('www-authenticate'), 'Bearer');
  const alice = await call(`${gateway.url}/api/catalog/buy`, { json: { id: 1, qty: 1 }, headers: { authorization: 'Bearer alice-token', 'x-plexus-caller': 'root' } });
  assert.equal(alice.status, 200);
  assert.equal((alice.body['headers'] as Record<string, string>)['x-plexus-caller'], 'alice');
  assert.equal(alice.body['caller'], 'gw');
});

test('maxInFlight refuses calls beyond the limit with 503 GATEWAY_BUSY', async (t) => {
  const cleanup = new Cleanup(t);
  const { gateway, observed } = await startCatalog(cleanup, { maxInFlight: 1 });
  const first = call(`${gateway.url}/api/catalog/slow?ms=2000`);
  await waitFor(() => observed.slowStarted === 1, 5000, 'first call running');
  const second = await call(`${gateway.url}/api/catalog/slow?ms=1`);
  assert.equal(second.status, 503);
  assert.equal(second.body['code'], ErrorCode.GATEWAY_BUSY);
  assert.equal((await first).status, 200);
  const third = await call(`${gateway.url}/api/catalog/slow?ms=1`);
  assert.equal(third.status, 200);
});

test('a service instance that dies mid-call is 502 at once, not a wait for the deadline', async (t) => {
  const cleanup = new Cleanup(t);
  const { gateway, observed, svcBus } = await startCatalog(cleanup);
  const started = Date.now();
  const pending = call(`${gateway.url}/api/catalog/slow?ms=20000`, { headers: { 'x-plexus-timeout-ms': '20000' } });
  await waitFor(() => observed.slowStarted === 1, 5000, 'handler start');
  await svcBus.close();
  const r = await pending;
  assert.equal(r.status, 502, JSON.stringify(r.body));
  assert.equal(r.body['code'], ErrorCode.RESPONDER_GONE);
  assert.ok(Date.now() - started < 15_000, 'well before the 20 s deadline');
});

test('hostile paths and keys: no prototype pollution, no host confusion', async (t) => {
  const cleanup = new Cleanup(t);
  const { gateway } = await startCatalog(cleanup);
  const q = await call(`${gateway.url}/api/catalog/search?q=x&__proto__=polluted&constructor=1`);
  assert.equal(q.status, 200, JSON.stringify(q.body));
  const body = await call(`${gateway.url}/api/catalog/search`, { method: 'POST', body: '{"q":"x","__proto__":{"polluted":true}}', headers: { 'content-type': 'application/json' } });
  assert.equal(body.status, 200, JSON.stringify(body.body));
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);

  const url = new URL(gateway.url);
  const status = await new Promise<number>((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path: '//example.org/openapi.json', method: 'GET' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(status, 404);
});

test('server-streaming methods answer NDJSON; early errors keep their status, late ones end the body', async (t) => {
  const cleanup = new Cleanup(t);
  const { gateway } = await startCatalog(cleanup);
  const res = await fetch(`${gateway.url}/api/ticker/count?to=5`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/x-ndjson; charset=utf-8');
  const lines = (await res.text()).split('\n');
  assert.equal(lines.pop(), '', 'every line ends with a newline');
  assert.deepEqual(lines.map((l) => JSON.parse(l) as unknown), [1, 2, 3, 4, 5].map((i) => ({ i })));

  const invalid = await call(`${gateway.url}/api/ticker/count?to=-1`);
  assert.equal(invalid.status, 400);
  assert.equal(invalid.body['code'], ErrorCode.VALIDATION);
  const atOnce = await call(`${gateway.url}/api/ticker/count`, { json: { to: 3, failAt: 1 } });
  assert.equal(atOnce.status, 422, 'TICKER_JAMMED before any output: a status of its own (no table rule: 422)');
  assert.equal(atOnce.body['code'], 'TICKER_JAMMED');

  const late = await fetch(`${gateway.url}/api/ticker/count`, { method: 'POST', body: JSON.stringify({ to: 5, failAt: 3 }), headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(10_000) });
  assert.equal(late.status, 200);
  const lateLines = (await late.text()).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(lateLines, [{ i: 1 }, { i: 2 }, { error: { code: 'TICKER_JAMMED', message: 'jammed at 3', details: { i: 3 } } }]);
});

test('a slow NDJSON reader holds the service back; hanging up stops it', async (t) => {
  const cleanup = new Cleanup(t);
  const { gateway, observed } = await startCatalog(cleanup);
  const ac = new AbortController();
  // 100k items of ~1 KiB each is ~100 MiB: far more than any buffer on the way.
  const res = await fetch(`${gateway.url}/api/ticker/count?to=100000&size=1000`, { signal: ac.signal });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  const first = await reader.read();
  assert.ok(first.value && first.value.length > 0);
  // Not reading: the producer must stall well short of the end (bounded by buffers).
  await new Promise((r) => setTimeout(r, 500));
  const stalledAt = observed.ticks;
  assert.ok(stalledAt < 100_000, `the service stalled at ${stalledAt}`);
  ac.abort();
  await reader.cancel().catch(() => undefined);
  await waitFor(() => gateway.inFlight === 0, 10_000, 'call finished after hang-up');
  // The reset reaches the service after whatever was already in flight: it must then stop.
  let previous = -1;
  for (let i = 0; i < 20 && observed.ticks !== previous; i++) {
    previous = observed.ticks;
    await new Promise((r) => setTimeout(r, 300));
  }
  assert.equal(observed.ticks, previous, 'the service stopped producing after the hang-up');
  assert.ok(observed.ticks < 100_000, `stopped at ${observed.ticks}, not at the end`);
});
