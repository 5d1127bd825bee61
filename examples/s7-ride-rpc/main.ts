/**
 * S7 — RPC: `placeMyRide` calls a shortest-path service.
 *
 * One broker on tcp://127.0.0.1:<random port> with token auth (so each call carries
 * the caller's name); two instances of the routing service
 * and one ride service, each on its own connection (they could as well be separate
 * processes or machines); a rider app that books rides through the typed client.
 *
 *  1. four rides: the routing calls alternate between the two instances (queue group);
 *  2. a ride to the airport with a 300 ms deadline: the deadline travels rider →
 *     rides → routing, and the routing instance's slow lookup stops when it passes;
 *  3. an invalid request is refused by the client before it is sent;
 *  4. a ride to the moon: the routing service's ServiceError reaches the rider.
 *
 * Usage: node dist/examples/s7-ride-rpc/main.js
 */
import { randomBytes } from 'node:crypto';
import {
  ServiceError,
  connect,
  serviceClient,
  startBroker,
  subscribeEvent,
  type Connection,
  type PlexusError,
} from '../../src/index.js';
import { rides } from './contracts.js';
import { startRides } from './ride-service.js';
import { startRouting } from './routing-service.js';

const say = (line: string): void => console.log(line);
const codeOf = (err: unknown): string => (err as PlexusError | ServiceError).code;

// One fresh token per party, so the broker stamps each call with a name (ctx.caller).
const names = ['routing-a', 'routing-b', 'rides', 'rider-app'] as const;
const tokens = new Map(names.map((n) => [n, randomBytes(18).toString('base64url')]));
const broker = await startBroker({
  listen: ['tcp://127.0.0.1:0'],
  auth: { users: names.map((user) => ({ user, token: tokens.get(user)! })) },
});
const url = broker.urls[0]!;
say(`broker listening on ${url}`);
const conns: Connection[] = [];
const open = async (name: (typeof names)[number]): Promise<Connection> => {
  const c = await connect(url, { name, token: tokens.get(name)! });
  conns.push(c);
  return c;
};

try {
  const servers = [
    startRouting(await open('routing-a'), 'routing-a', say),
    startRouting(await open('routing-b'), 'routing-b', say),
    startRides(await open('rides'), say),
  ];
  for (const s of servers) await s.ready();

  const app = await open('rider-app');
  const booked = subscribeEvent(app, rides, 'rideBooked', { callback: (e) => say(`[app] event rideBooked ${e.data.rideId} from ${e.from}`) });
  await app.flush();
  const client = serviceClient(app, rides, { version: '^2' });

  say('--- 1. four rides, routing load-balanced');
  for (const [rider, from, to] of [
    ['ann', 'home', 'harbor'],
    ['bob', 'park', 'harbor'],
    ['cy', 'home', 'market'],
    ['di', 'station', 'park'],
  ] as const) {
    const r = await client.placeMyRide({ rider, from, to });
    say(`[app] ${rider}: ${r.rideId} ${r.path.join('>')} ${r.km} km fare ${r.fare} routed by ${r.routedBy}`);
  }

  say('--- 2. a deadline that travels');
  const t0 = Date.now();
  try {
    await client.placeMyRide({ rider: 'eve', from: 'home', to: 'airport' }, { timeoutMs: 300 });
    say('[app] unexpected: the airport ride was placed');
  } catch (err) {
    say(`[app] eve: ${codeOf(err)} after ~${Math.round((Date.now() - t0) / 100) * 100} ms`);
  }

  say('--- 3. validated before sending');
  try {
    await client.placeMyRide({ rider: '', from: 'home', to: 'park' });
  } catch (err) {
    const issues = (err as ServiceError).details as { issues: { path?: unknown[]; message: string }[] };
    say(`[app] refused locally: ${codeOf(err)} at ${issues.issues.map((i) => i.path?.join('.')).join(', ')}`);
  }

  say('--- 4. an application error crosses the wire');
  try {
    await client.placeMyRide({ rider: 'fay', from: 'home', to: 'moon' });
  } catch (err) {
    say(`[app] fay: ${err instanceof ServiceError ? 'ServiceError' : 'other'} ${codeOf(err)}: ${(err as Error).message} ${JSON.stringify((err as ServiceError).details)}`);
  }

  // Let the routing instance report its stopped lookup before shutting down.
  await new Promise((r) => setTimeout(r, 200));
  booked.unsubscribe();
  for (const s of servers) await s.close();
  say('OK');
} finally {
  for (const c of conns) await c.close();
  await broker.close({ drainMs: 200 });
}
