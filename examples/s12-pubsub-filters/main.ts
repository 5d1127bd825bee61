/**
 * S12 — content-based pub/sub: subject wildcards (`*` one token, `>` the rest) plus
 * header filters evaluated by the broker (every listed key must match; `*` = present).
 *
 * A broker on tcp://127.0.0.1:<random port>; each subscriber has its own connection, so
 * whatever it receives is exactly what the broker chose to send it. A publisher sends a
 * fixed set of messages, then a `demo.done` marker; messages on one connection arrive in
 * order, so once a subscriber sees the marker it has everything meant for it.
 *
 * Usage: node dist/examples/s12-pubsub-filters/main.js
 */
import { connect, startBroker, type Broker, type Connection } from '../../src/index.js';

/** Who subscribes to what. Members of a queue group share its messages. */
interface SubscriberSpec {
  readonly name: string;
  readonly subject: string;
  readonly headers?: Record<string, string>;
  readonly queue?: string;
}

const SUBSCRIBERS: readonly SubscriberSpec[] = [
  { name: 'all-orders', subject: 'orders.>' },
  { name: 'eu-orders', subject: 'orders.>', headers: { region: 'eu' } },
  { name: 'created', subject: 'orders.*.created' },
  { name: 'us-urgent', subject: 'orders.*.*', headers: { region: 'us', priority: 'high' } },
  { name: 'alerts', subject: 'alerts', headers: { severity: '*' } },
  // A queue group whose members filter on content: each message goes to the one member
  // whose filter it passes (and to nobody if none does).
  { name: 'eu-shipper', subject: 'orders.*.shipped', queue: 'shipping', headers: { region: 'eu' } },
  { name: 'us-shipper', subject: 'orders.*.shipped', queue: 'shipping', headers: { region: 'us' } },
];

/** What the publisher sends, in order. */
const MESSAGES: readonly { id: string; subject: string; headers?: Record<string, string> }[] = [
  { id: 'm1', subject: 'orders.book.created', headers: { region: 'eu' } },
  { id: 'm2', subject: 'orders.book.shipped', headers: { region: 'eu' } },
  { id: 'm3', subject: 'orders.toy.created', headers: { region: 'us', priority: 'high' } },
  { id: 'm4', subject: 'orders.toy.shipped', headers: { region: 'us' } },
  { id: 'm5', subject: 'orders.toy.cancelled', headers: { region: 'us', priority: 'high' } },
  { id: 'm6', subject: 'orders.created', headers: { region: 'eu' } },
  { id: 'm7', subject: 'orders.book.created.retry', headers: { region: 'eu' } },
  { id: 'm8', subject: 'orders.game.created' },
  { id: 'm9', subject: 'orders.game.shipped', headers: { region: 'apac' } },
  { id: 'm10', subject: 'alerts', headers: { severity: 'high' } },
  { id: 'm11', subject: 'alerts' },
  { id: 'm12', subject: 'alerts', headers: { severity: 'low', team: 'db' } },
  { id: 'm13', subject: 'alerts.disk', headers: { severity: 'low' } },
  { id: 'm14', subject: 'orders.book.created', headers: { region: 'EU' } },
];

const DONE = 'demo.done';

const show = (h: Readonly<Record<string, string>> | undefined): string =>
  h && Object.keys(h).length > 0 ? `{${Object.entries(h).map(([k, v]) => `${k}=${v}`).join(' ')}}` : '{}';

/** Resolve `promise` or reject naming `what` after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_r, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

let broker: Broker | undefined;
const connections: Connection[] = [];
try {
  broker = await startBroker({ listen: ['tcp://127.0.0.1:0'] });
  const url = broker.urls[0]!;
  console.log(`broker listening on ${url}`);

  const got = new Map<string, string[]>();
  const finished: Promise<void>[] = [];
  for (const spec of SUBSCRIBERS) {
    const conn = await connect(url, { name: spec.name });
    connections.push(conn);
    const ids: string[] = [];
    got.set(spec.name, ids);
    conn.subscribe(spec.subject, {
      ...(spec.headers ? { headers: spec.headers } : {}),
      ...(spec.queue ? { queue: spec.queue } : {}),
      callback: (msg) => ids.push(msg.string()),
    });
    const done = conn.subscribe(DONE, { max: 1 });
    finished.push(done.closed);
    await conn.flush(); // the broker has both subscriptions before anything is published
  }

  const publisher = await connect(url, { name: 'publisher' });
  connections.push(publisher);
  for (const m of MESSAGES) {
    publisher.publish(m.subject, m.id, m.headers ? { headers: m.headers } : undefined);
    console.log(`published ${m.id.padEnd(3)} ${m.subject.padEnd(25)} ${show(m.headers)}`);
  }
  publisher.publish(DONE);
  await within(Promise.all(finished), 5000, 'every subscriber seeing the end marker');

  console.log('');
  console.log('deliveries:');
  for (const spec of SUBSCRIBERS) {
    const pattern = `${spec.subject} ${show(spec.headers)}${spec.queue ? ` queue=${spec.queue}` : ''}`;
    console.log(`${spec.name.padEnd(10)} ${pattern.padEnd(44)} <- ${got.get(spec.name)!.join(' ') || '(nothing)'}`);
  }
  const nobody = MESSAGES.filter((m) => ![...got.values()].some((ids) => ids.includes(m.id))).map((m) => m.id);
  console.log(`${'(nobody)'.padEnd(10)} ${''.padEnd(44)} <- ${nobody.join(' ') || '(nothing)'}`);
} catch (err) {
  console.error(`FAIL: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
} finally {
  await Promise.all(connections.map((c) => c.close()));
  await broker?.close({ drainMs: 0 });
}
