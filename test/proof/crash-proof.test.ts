/**
 * The crash proof of issue 3 §4: the broker (with its embedded durable service) is
 * SIGKILLed at random moments, at least KILLS times, while clients make at least OPS
 * acknowledged operations across a queue (sends and acks), a mailbox (sends and acks)
 * and a KV bucket (puts). After the last restart every workload is drained and checked:
 *
 * - 0 acknowledged messages lost (every acked send is delivered),
 * - 0 duplicates after dedup (no msg id stored under two sequences; sends are retried
 *   with the same msg id until acknowledged, as a real producer does),
 * - every message settled in the end (nothing left stored, unacknowledged or dead-lettered),
 * - 0 corrupt payloads and 0 lost KV puts (each key holds its last acknowledged value,
 *   or the newer one whose reply the kill swallowed).
 *
 * Redeliveries (at-least-once: a kill between a delivery and its ack) are counted, not
 * failed. Whether an ack, once confirmed, is never undone is checked where delivery
 * times are exact (test/durable/crash.test.ts, pull consumers); here pushed messages
 * wait in a prefetch buffer, so a copy pushed before the ack can be seen after it.
 *
 * Sizes come from PLEXUS_PROOF_OPS (default 200000) and PLEXUS_PROOF_KILLS (default 50).
 * The tallies are printed.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect, kv, mailbox, queue, type Connection, type QueueConsumer } from '../../src/index.js';
import { spawnNode, type TestChild } from '../helpers/child.js';
import { Cleanup, tempDir } from '../helpers/plexus.js';
import { sleep } from '../helpers/wait.js';
import { KvTally, MessageTally } from './tally.js';

const OPS = Number(process.env['PLEXUS_PROOF_OPS'] ?? 200_000);
const KILLS = Number(process.env['PLEXUS_PROOF_KILLS'] ?? 50);
const LIMIT_MS = 540_000;
const child = new URL('./fixtures/broker-child.js', import.meta.url);
const PAD = 'x'.repeat(96);
const ACKS_IN_FLIGHT = 64;
const body = (kind: string, id: number): string => `${kind}:${id}:${PAD}`;

test(`crash proof: ${KILLS} kill -9 of the broker during ≥ ${OPS} acknowledged queue, mailbox and KV operations`, { timeout: LIMIT_MS + 60_000 }, async (t) => {
  const cleanup = new Cleanup(t, 10_000);
  const dir = await tempDir(cleanup, 'plexus-proof-');
  const sock = join(dir, 'broker.sock');
  const url = `unix://${sock}`;
  const data = join(dir, 'data');
  const start = async (): Promise<TestChild> => {
    const c = await spawnNode(cleanup, child, [sock, data]);
    await c.waitLine(/^ready$/, 15_000);
    return c;
  };
  let broker = await start();
  const started = Date.now();
  const overdue = (): boolean => Date.now() - started > LIMIT_MS;

  const clients: Connection[] = [];
  const client = async (): Promise<Connection> => {
    const bus = await connect(url, { reconnectDelayMs: 20, timeoutMs: 5000, name: 'proof' });
    clients.push(bus);
    cleanup.defer(() => bus.close());
    return bus;
  };
  const q = new MessageTally();
  const mb = new MessageTally();
  const kvt = new KvTally();
  const opts = { ackWaitMs: 30_000, maxDeliver: 1000, timeoutMs: 3000 };
  let stopProducing = false;
  let stopConsuming = false;
  const ops = (): number => q.acked.size + q.ackConfirmedAt.size + mb.acked.size + mb.ackConfirmedAt.size + kvt.acked;

  // Producers: each id is sent with its own msg id until acknowledged.
  let nextQ = 0;
  let nextM = 0;
  const producer = async (bus: Connection, kind: 'q' | 'm'): Promise<void> => {
    const target = kind === 'q' ? queue(bus, 'proofq', opts) : mailbox(bus, 'alice', opts);
    const tally = kind === 'q' ? q : mb;
    while (!stopProducing && !overdue()) {
      const id = kind === 'q' ? nextQ++ : nextM++;
      for (;;) {
        tally.sendAttempts++;
        try {
          const r = await target.send(body(kind, id), { msgId: `${kind}${id}`, timeoutMs: 3000 });
          if (!tally.acked.has(id)) tally.acked.set(id, r.seq);
          break;
        } catch {
          tally.sendFailures++;
          if (overdue()) return;
          await sleep(20);
        }
      }
    }
  };
  // Consumers: ack every delivery; a consumer session that dies with the broker is reopened.
  const consumer = async (bus: Connection, kind: 'q' | 'm'): Promise<void> => {
    const open = (): QueueConsumer =>
      kind === 'q' ? queue(bus, 'proofq', opts).consume({ prefetch: 64 }) : mailbox(bus, 'alice', opts).read({ prefetch: 64 });
    const tally = kind === 'q' ? q : mb;
    const acking = new Set<Promise<void>>();
    while (!stopConsuming && !overdue()) {
      let it: QueueConsumer | undefined;
      try {
        it = open();
        for await (const m of it) {
          const receivedAt = Date.now();
          const text = m.string();
          const id = Number(text.split(':', 2)[1]);
          tally.delivered(id, m.seq, text === body(kind, id), receivedAt);
          // Acks go out concurrently (at most ACKS_IN_FLIGHT), as a busy consumer's would:
          // the service saves them together.
          while (acking.size >= ACKS_IN_FLIGHT) await Promise.race(acking);
          const seq = m.seq;
          const p = m.ack().then(
            () => {
              if (!tally.ackConfirmedAt.has(seq)) tally.ackConfirmedAt.set(seq, Date.now());
            },
            () => {
              tally.ackFailures++;
            },
          );
          acking.add(p);
          void p.finally(() => acking.delete(p));
          if (stopConsuming || overdue()) break;
        }
      } catch {
        await sleep(50);
      } finally {
        void it?.close();
      }
    }
  };
  // KV writers: each owns 16 keys and writes increasing numbers to them in turn.
  const kvWriter = async (bus: Connection, w: number): Promise<void> => {
    const bucket = kv(bus, 'proofkv', { timeoutMs: 3000 });
    const counters = new Array<number>(16).fill(0);
    let lastRevision = 0;
    for (let i = 0; !stopProducing && !overdue(); i = (i + 1) % 16) {
      const key = `w${w}.k${i}`;
      const n = ++counters[i]!;
      for (;;) {
        kvt.attempts++;
        kvt.lastAttempted.set(key, n);
        try {
          const revision = await bucket.put(key, String(n), { timeoutMs: 3000 });
          if (revision <= lastRevision) kvt.revisionRegressions++;
          lastRevision = revision;
          kvt.lastAcked.set(key, n);
          kvt.acked++;
          break;
        } catch {
          kvt.failures++;
          if (overdue()) return;
          await sleep(20);
        }
      }
    }
  };

  const buses = await Promise.all(Array.from({ length: 4 }, () => client()));
  const work = [
    ...Array.from({ length: 24 }, (_, i) => producer(buses[i % 4]!, 'q')),
    ...Array.from({ length: 12 }, (_, i) => producer(buses[i % 4]!, 'm')),
    ...Array.from({ length: 12 }, (_, i) => kvWriter(buses[i % 4]!, i)),
  ];
  const consumers = [consumer(await client(), 'q'), consumer(await client(), 'q'), consumer(await client(), 'm')];

  // The kills: spread out, each at a random moment of the traffic.
  let kills = 0;
  // PLEXUS_PROOF_VERBOSE=1: a progress line every 2 s on stderr.
  const progress = process.env['PLEXUS_PROOF_VERBOSE']
    ? setInterval(() => process.stderr.write(`proof: ${kills} kills, ${ops()} ops (q ${q.acked.size}/${q.ackConfirmedAt.size}, m ${mb.acked.size}/${mb.ackConfirmedAt.size}, kv ${kvt.acked})\n`), 2000)
    : undefined;
  cleanup.defer(() => clearInterval(progress));
  while (kills < KILLS && !overdue()) {
    await sleep(150 + Math.floor(Math.random() * 350));
    await broker.kill();
    kills++;
    broker = await start();
  }
  while (ops() < OPS && !overdue()) await sleep(100);
  stopProducing = true;
  await Promise.all(work);
  const opsAtStop = ops();

  // Drain: every acknowledged send must come out, and the service must hold nothing
  // unsettled (an ack whose reply a kill swallowed may still have been saved, so the
  // service's numbers, not the client's tally of confirmed acks, say when it is done).
  const admin = buses[0]!;
  const stats = () => Promise.all([queue(admin, 'proofq', opts).stat(), mailbox(admin, 'alice', opts).stat()]);
  let [qStat, mStat] = await stats();
  while (!overdue()) {
    if (q.lost() === 0 && mb.lost() === 0) {
      [qStat, mStat] = await stats().catch(() => [qStat, mStat] as const);
      if (qStat.stored + qStat.unacked + mStat.stored + mStat.unacked === 0) break;
    }
    await sleep(200);
  }
  stopConsuming = true;
  await Promise.race([Promise.all(consumers), sleep(5000)]);

  let kvLost = 0;
  let kvUnknown = 0;
  const bucket = kv(admin, 'proofkv');
  for (const key of kvt.lastAttempted.keys()) {
    const e = await bucket.get(key);
    const verdict = kvt.check(key, e === undefined ? undefined : Number(e.string()));
    if (verdict === 'lost') kvLost++;
    else if (verdict === 'unknown-value') kvUnknown++;
  }

  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const line = (name: string, x: MessageTally): string =>
    `${name}: acked sends ${x.acked.size} (attempts ${x.sendAttempts}, failed ${x.sendFailures}), deliveries ${x.deliveries} (redeliveries ${x.deliveries - x.deliveredSeqs.size}, of which seen after a confirmed ack ${x.undoneAcks}), acks confirmed ${x.ackConfirmedAt.size} (failed ${x.ackFailures}); lost ${x.lost()}, duplicates ${x.duplicates()}, corrupt ${x.corrupt}`;
  const report = [
    `crash proof: ${kills} kill -9 of the broker, ${opsAtStop} acknowledged operations in ${seconds} s`,
    line('queue  ', q),
    line('mailbox', mb),
    `kv     : acked puts ${kvt.acked} (attempts ${kvt.attempts}, failed ${kvt.failures}) over ${kvt.lastAttempted.size} keys; lost ${kvLost}, unknown values ${kvUnknown}, revision regressions ${kvt.revisionRegressions}`,
    `after drain: queue stored ${qStat.stored} unacked ${qStat.unacked} dead ${qStat.deadLetters}; mailbox stored ${mStat.stored} unacked ${mStat.unacked} dead ${mStat.deadLetters}`,
  ];
  for (const l of report) t.diagnostic(l);
  console.log(report.join('\n'));

  assert.ok(!overdue(), `finished within ${LIMIT_MS / 1000} s`);
  assert.equal(kills, KILLS, 'every planned kill happened');
  assert.ok(opsAtStop >= OPS, `at least ${OPS} acknowledged operations (${opsAtStop})`);
  for (const [name, x] of [['queue', q], ['mailbox', mb]] as const) {
    assert.equal(x.lost(), 0, `${name}: acknowledged sends lost`);
    assert.equal(x.duplicates(), 0, `${name}: msg ids stored twice`);
    assert.equal(x.corrupt, 0, `${name}: corrupt payloads`);
    assert.ok(x.sendFailures > 0, `${name}: the kills hit sends in flight`);
  }
  assert.equal(kvLost, 0, 'kv: acknowledged puts lost');
  assert.equal(kvUnknown, 0, 'kv: values nobody wrote');
  assert.equal(kvt.revisionRegressions, 0, 'kv: revisions went backwards');
  assert.equal(qStat.stored + qStat.unacked + mStat.stored + mStat.unacked, 0, 'nothing left stored or unacknowledged');
  assert.equal(qStat.deadLetters + mStat.deadLetters, 0, 'nothing dead-lettered');
});
