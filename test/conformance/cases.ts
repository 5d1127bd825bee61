/**
 * The conformance test bodies. Each talks only to the `Bus` surface, so the same body
 * proves the same behaviour on every target. Receivers and senders use separate
 * connections (as real deployments do), and every subject sits under the test's own
 * prefix. A subscriber `flush()`es before anyone publishes, so its interest is known to
 * the server first.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { ErrorCode, PlexusError, type Bus, type Feature, type Message } from '../../src/index.js';
import { codeOf, deferred, rejection, thrownCode, within } from '../helpers/wait.js';
import { take } from '../helpers/plexus.js';
import type { TargetSession } from './targets.js';

/** One conformance test body. */
export interface ConformanceCase {
  readonly name: string;
  /** The capability it proves; unsupported ones are reported, not run. */
  readonly feature: Feature;
  run(target: TargetSession, t: TestContext): Promise<void>;
}

const WAIT_MS = 5000;

/** Two connections: one to send, one to receive. */
async function pair(target: TargetSession): Promise<[Bus, Bus]> {
  return [await target.connect(), await target.connect()];
}

export const CASES: readonly ConformanceCase[] = [
  {
    name: 'publish/subscribe delivers every message, in order, with its payload',
    feature: 'pubsub',
    async run(target) {
      const [pub, sub] = await pair(target);
      const subject = `${target.prefix}.events`;
      const s = sub.subscribe(subject);
      await sub.flush();
      for (let i = 0; i < 5; i++) pub.publish(subject, `m${i}`);
      await pub.flush();
      const got = await take(s, 5, WAIT_MS);
      assert.deepEqual(got.map((m) => m.string()), ['m0', 'm1', 'm2', 'm3', 'm4']);
      assert.deepEqual(got.map((m) => m.subject), Array(5).fill(subject));
    },
  },
  {
    name: 'payloads arrive byte for byte: binary, empty, and UTF-8 text',
    feature: 'pubsub',
    async run(target) {
      const [pub, sub] = await pair(target);
      const subject = `${target.prefix}.bytes`;
      const s = sub.subscribe(subject);
      await sub.flush();
      const binary = Uint8Array.from({ length: 256 }, (_, i) => i);
      pub.publish(subject, binary);
      pub.publish(subject);
      pub.publish(subject, 'grüße ✓');
      await pub.flush();
      const [a, b, c] = (await take(s, 3, WAIT_MS)) as [Message, Message, Message];
      assert.deepEqual([...a.data], [...binary]);
      assert.equal(b.data.length, 0);
      assert.equal(c.string(), 'grüße ✓');
    },
  },
  {
    name: 'unsubscribe and max: no message after unsubscribe(), none past max',
    feature: 'pubsub',
    async run(target) {
      const [pub, sub] = await pair(target);
      const p = target.prefix;
      const limited = sub.subscribe(`${p}.lim`, { max: 2 });
      const stopped: string[] = [];
      const toStop = sub.subscribe(`${p}.stop`, { callback: (m) => stopped.push(m.string()) });
      const end = sub.subscribe(`${p}.end`);
      await sub.flush();
      pub.publish(`${p}.stop`, 'before');
      for (let i = 0; i < 5; i++) pub.publish(`${p}.lim`, String(i));
      await pub.flush();
      assert.deepEqual((await take(limited, 2, WAIT_MS)).map((m) => m.string()), ['0', '1']);
      await within(limited.closed, WAIT_MS, 'the max-limited subscription to end');
      await sub.flush();
      toStop.unsubscribe();
      await sub.flush();
      pub.publish(`${p}.stop`, 'after');
      pub.publish(`${p}.end`);
      await pub.flush();
      await take(end, 1, WAIT_MS, 'the end marker');
      assert.deepEqual(stopped, ['before']);
      const rest: Message[] = [];
      for await (const m of limited) rest.push(m);
      assert.equal(rest.length, 0, 'nothing past max');
    },
  },
  {
    name: 'invalid subjects are refused with PLEXUS_ERR_INVALID_SUBJECT',
    feature: 'pubsub',
    async run(target) {
      const bus = await target.connect();
      for (const bad of ['', 'a..b', 'a b', `${target.prefix}.*`, `${target.prefix}.>`]) {
        assert.equal(thrownCode(() => bus.publish(bad, 'x')), ErrorCode.INVALID_SUBJECT, `publish ${JSON.stringify(bad)}`);
      }
      assert.equal(thrownCode(() => bus.subscribe('a..b')), ErrorCode.INVALID_SUBJECT);
      assert.equal(codeOf(await rejection(bus.request('a b', 'x'), WAIT_MS)), ErrorCode.INVALID_SUBJECT);
    },
  },
  {
    name: "wildcards: '*' matches one token, '>' one or more trailing tokens",
    feature: 'wildcards',
    async run(target) {
      const [pub, sub] = await pair(target);
      const p = target.prefix;
      const star: string[] = [];
      const tail: string[] = [];
      sub.subscribe(`${p}.*.x`, { callback: (m) => star.push(m.subject) });
      sub.subscribe(`${p}.>`, { callback: (m) => tail.push(m.subject) });
      const end = sub.subscribe(`${p}.end`);
      await sub.flush();
      for (const s of [`${p}.a.x`, `${p}.a.b.x`, `${p}.a`, `${p}.b.x`, `${p}.end`]) pub.publish(s);
      await pub.flush();
      await take(end, 1, WAIT_MS, 'the end marker');
      assert.deepEqual(star, [`${p}.a.x`, `${p}.b.x`]);
      assert.deepEqual(tail, [`${p}.a.x`, `${p}.a.b.x`, `${p}.a`, `${p}.b.x`, `${p}.end`]);
    },
  },
  {
    name: 'queue groups: each message reaches exactly one member; plain subscribers get all',
    feature: 'queue-groups',
    async run(target) {
      const pub = await target.connect();
      const members = [await target.connect(), await target.connect()];
      const watcher = await target.connect();
      const subject = `${target.prefix}.jobs`;
      const seen: string[][] = [[], []];
      members.forEach((m, i) => m.subscribe(subject, { queue: 'workers', callback: (msg) => seen[i]!.push(msg.string()) }));
      const all = watcher.subscribe(subject);
      for (const b of [...members, watcher]) await b.flush();
      const n = 40;
      for (let i = 0; i < n; i++) pub.publish(subject, String(i));
      await pub.flush();
      await take(all, n, WAIT_MS, 'every message at the plain subscriber');
      for (const m of members) await m.flush();
      const delivered = [...seen[0]!, ...seen[1]!].map(Number).sort((a, b) => a - b);
      assert.deepEqual(delivered, Array.from({ length: n }, (_, i) => i), 'each message exactly once across the group');
      assert.ok(seen[0]!.length > 0 && seen[1]!.length > 0, `both members served (${seen[0]!.length}/${seen[1]!.length})`);
    },
  },
  {
    name: 'request/reply: the one responder answers',
    feature: 'request-reply',
    async run(target) {
      const [caller, server] = await pair(target);
      const subject = `${target.prefix}.upper`;
      server.serve(subject, (msg) => msg.string().toUpperCase());
      await server.flush();
      const reply = await within(caller.request(subject, 'hello', { timeout: WAIT_MS }), WAIT_MS + 1000, 'request');
      assert.equal(reply.string(), 'HELLO');
    },
  },
  {
    name: 'request/reply: msg.respond() from a plain subscription answers, with headers',
    feature: 'request-reply',
    async run(target) {
      const [caller, server] = await pair(target);
      const subject = `${target.prefix}.manual`;
      server.subscribe(subject, { callback: (msg) => msg.respond(`got ${msg.string()}`, { headers: { answered: 'yes' } }) });
      await server.flush();
      const reply = await caller.request(subject, 'ping', { timeout: WAIT_MS });
      assert.equal(reply.string(), 'got ping');
      assert.equal(reply.headers['answered'], 'yes');
    },
  },
  {
    name: 'an already-aborted signal rejects the request with its reason and reaches no handler',
    feature: 'request-reply',
    async run(target) {
      const [caller, server] = await pair(target);
      const subject = `${target.prefix}.pre`;
      let calls = 0;
      server.serve(subject, () => {
        calls++;
        return 'x';
      });
      await server.flush();
      const ac = new AbortController();
      const why = new PlexusError(ErrorCode.CANCELLED, 'never mind');
      ac.abort(why);
      assert.equal(await rejection(caller.request(subject, 'x', { signal: ac.signal, timeout: WAIT_MS }), WAIT_MS), why);
      // A request after it proves the responder was reachable; it is the only call.
      assert.equal((await caller.request(subject, 'y', { timeout: WAIT_MS })).string(), 'x');
      assert.equal(calls, 1);
    },
  },
  {
    name: "request deadline: the caller gets PLEXUS_ERR_TIMEOUT and the handler's signal fires with it",
    feature: 'request-deadline',
    async run(target) {
      const [caller, server] = await pair(target);
      const subject = `${target.prefix}.slow`;
      const handlerAborted = deferred<unknown>();
      let deadline: number | undefined;
      server.serve(subject, (_msg, ctx) => {
        deadline = ctx.deadline;
        return new Promise<void>((resolve) => {
          ctx.signal.addEventListener('abort', () => {
            handlerAborted.resolve(ctx.signal.reason);
            resolve();
          });
        });
      });
      await server.flush();
      const err = await rejection(caller.request(subject, 'x', { timeout: 300 }), WAIT_MS, 'timed-out request');
      assert.equal(codeOf(err), ErrorCode.TIMEOUT);
      assert.ok(deadline !== undefined, 'the handler saw the deadline');
      const reason = await within(handlerAborted.promise, WAIT_MS, "the handler's signal");
      assert.equal(codeOf(reason), ErrorCode.TIMEOUT);
    },
  },
  {
    name: "cancellation: aborting the caller's signal rejects the request and reaches the handler",
    feature: 'cancel-to-responder',
    async run(target) {
      const [caller, server] = await pair(target);
      const subject = `${target.prefix}.cancel`;
      const started = deferred();
      const handlerAborted = deferred<unknown>();
      server.serve(subject, (_msg, ctx) => {
        started.resolve();
        return new Promise<void>((resolve) => {
          ctx.signal.addEventListener('abort', () => {
            handlerAborted.resolve(ctx.signal.reason);
            resolve();
          });
        });
      });
      await server.flush();
      const ac = new AbortController();
      const pending = caller.request(subject, 'x', { timeout: 30_000, signal: ac.signal });
      await within(started.promise, WAIT_MS, 'the handler to start');
      const why = new PlexusError(ErrorCode.CANCELLED, 'user went away');
      ac.abort(why);
      assert.equal(await rejection(pending, WAIT_MS, 'aborted request'), why);
      const reason = await within(handlerAborted.promise, WAIT_MS, "the handler's signal");
      assert.equal(codeOf(reason), ErrorCode.CANCELLED);
    },
  },
  {
    name: 'no responders: PLEXUS_ERR_NO_RESPONDERS, not a timeout',
    feature: 'no-responders',
    async run(target) {
      const caller = await target.connect();
      const err = await rejection(caller.request(`${target.prefix}.nobody`, 'x', { timeout: 30_000 }), WAIT_MS, 'request to nobody');
      assert.equal(codeOf(err), ErrorCode.NO_RESPONDERS);
    },
  },
  {
    name: 'responder gone: a responder that disconnects holding a request fails it at once',
    feature: 'responder-gone',
    async run(target) {
      const [caller, server] = await pair(target);
      const subject = `${target.prefix}.gone`;
      const started = deferred();
      server.serve(subject, () => {
        started.resolve();
        return new Promise<void>(() => {});
      });
      await server.flush();
      const pending = caller.request(subject, 'x', { timeout: 30_000 });
      await within(started.promise, WAIT_MS, 'the handler to start');
      await server.close();
      assert.equal(codeOf(await rejection(pending, WAIT_MS, 'orphaned request')), ErrorCode.RESPONDER_GONE);
    },
  },
  {
    name: 'headers round trip on publish and on request',
    feature: 'headers',
    async run(target) {
      const [pub, sub] = await pair(target);
      const subject = `${target.prefix}.hdr`;
      const headers = { region: 'eu', 'x-trace-id': 'abc-123', Empty: '' };
      const s = sub.subscribe(subject);
      const seenByHandler = deferred<Readonly<Record<string, string>>>();
      sub.serve(`${subject}.rpc`, (msg) => {
        seenByHandler.resolve({ ...msg.headers });
        return 'ok';
      });
      await sub.flush();
      pub.publish(subject, 'x', { headers });
      const [msg] = (await take(s, 1, WAIT_MS)) as [Message];
      assert.deepEqual({ ...msg.headers }, headers);
      await pub.request(`${subject}.rpc`, 'x', { headers, timeout: WAIT_MS });
      assert.deepEqual(await within(seenByHandler.promise, WAIT_MS, 'handler headers'), headers);
    },
  },
  {
    name: "error replies: a handler's coded error keeps its code; anything else is PLEXUS_ERR_HANDLER_FAILED",
    feature: 'error-replies',
    async run(target) {
      const [caller, server] = await pair(target);
      const p = target.prefix;
      server.serve(`${p}.coded`, () => {
        throw new PlexusError(ErrorCode.VALIDATION, 'amount must be positive', { details: { field: 'amount' } });
      });
      server.serve(`${p}.plain`, async () => {
        throw new Error('boom');
      });
      await server.flush();
      const coded = await rejection(caller.request(`${p}.coded`, 'x', { timeout: WAIT_MS }), WAIT_MS + 1000);
      assert.equal(codeOf(coded), ErrorCode.VALIDATION);
      assert.deepEqual((coded as PlexusError).details, { field: 'amount' });
      const plain = await rejection(caller.request(`${p}.plain`, 'x', { timeout: WAIT_MS }), WAIT_MS + 1000);
      assert.equal(codeOf(plain), ErrorCode.HANDLER_FAILED);
      assert.match((plain as Error).message, /boom/);
    },
  },
  {
    name: "identity: receivers and handlers see the sender's identity",
    feature: 'identity',
    async run(target) {
      const [sender, receiver] = await pair(target);
      const subject = `${target.prefix}.who`;
      const identity = sender.server?.identity ?? '';
      assert.notEqual(identity, '', 'the sender has an identity');
      const s = receiver.subscribe(subject);
      receiver.serve(`${subject}.rpc`, (_msg, ctx) => ctx.from);
      await receiver.flush();
      sender.publish(subject, 'x');
      const [msg] = (await take(s, 1, WAIT_MS)) as [Message];
      assert.equal(msg.from, identity);
      const reply = await sender.request(`${subject}.rpc`, 'x', { timeout: WAIT_MS });
      assert.equal(reply.string(), identity);
    },
  },
  {
    name: 'identity cannot be forged: reserved headers are refused and the broker stamps the sender',
    feature: 'identity-unforgeable',
    async run(target) {
      const [sender, receiver] = await pair(target);
      const subject = `${target.prefix}.forge`;
      assert.throws(() => sender.publish(subject, 'x', { headers: { ':from': 'root' } }), (e) => codeOf(e) === ErrorCode.INVALID_HEADERS);
      const s = receiver.subscribe(subject);
      await receiver.flush();
      sender.publish(subject, 'x');
      const [msg] = (await take(s, 1, WAIT_MS)) as [Message];
      assert.equal(msg.from, sender.server?.identity);
    },
  },
  {
    name: "backpressure: overflow 'block' loses nothing when the queue is full",
    feature: 'subscribe-backpressure',
    async run(target) {
      const [pub, sub] = await pair(target);
      const subject = `${target.prefix}.bp`;
      const s = sub.subscribe(subject, { overflow: 'block', maxPending: 4 });
      await sub.flush();
      const n = 200;
      for (let i = 0; i < n; i++) pub.publish(subject, String(i));
      await pub.flush();
      const got = await take(s, n, WAIT_MS * 2);
      assert.deepEqual(got.map((m) => Number(m.string())), Array.from({ length: n }, (_, i) => i));
      assert.equal(s.dropped, 0);
    },
  },
];
