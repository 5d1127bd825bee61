/**
 * S2 — an HTTP/REST `GET /users` server and a plain `fetch` client.
 *
 * The `users` service is an ordinary Plexus service (contract.ts) served on the bus; the
 * HTTP gateway exposes it as REST/JSON, with `GET /users` as an extra path for
 * `users.list` and an OpenAPI 3.1 document at `/openapi.json`. The client below knows
 * nothing about Plexus: it uses `fetch`.
 *
 * Usage:
 *   node dist/examples/s2-http-users/main.js           run the fetch demo, then exit
 *   node dist/examples/s2-http-users/main.js --serve   keep serving (print the URL) until SIGINT/SIGTERM
 */
import { connect, serveService, startBroker, startGateway, ServiceError, type Connection } from '../../src/index.js';
import { users } from './contract.js';

type User = { id: number; name: string; email: string; role: 'admin' | 'member' };

/** The service: an in-memory table, enough to show the errors and the validation. */
function serveUsers(bus: Connection) {
  const table: User[] = [
    { id: 1, name: 'Ada Lovelace', email: 'ada@example.org', role: 'admin' },
    { id: 2, name: 'Grace Hopper', email: 'grace@example.org', role: 'member' },
    { id: 3, name: 'Linus Torvalds', email: 'linus@example.org', role: 'member' },
  ];
  return serveService(bus, users, {
    list: async ({ role, limit }) => ({ users: table.filter((u) => role === undefined || u.role === role).slice(0, limit ?? 100) }),
    get: async ({ id }) => {
      const user = table.find((u) => u.id === id);
      if (!user) throw new ServiceError('USER_NOT_FOUND', `no user ${id}`, { id });
      return user;
    },
    create: async (input, ctx) => {
      if (table.some((u) => u.email === input.email)) throw new ServiceError('EMAIL_ALREADY_EXISTS', `${input.email} is taken`);
      const user: User = { id: table.length + 1, ...input };
      table.push(user);
      ctx.log.info('created user', { id: user.id });
      return user;
    },
  });
}

/** `fetch` and print one line: method, path, status and the JSON answer. */
async function show(base: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${base}${path}`, {
    method,
    signal: AbortSignal.timeout(5000),
    ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
  });
  const json = (await res.json()) as unknown;
  console.log(`${method} ${path} -> ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function demo(base: string): Promise<void> {
  await show(base, 'GET', '/users');
  await show(base, 'GET', '/users?role=member&limit=1');
  await show(base, 'GET', '/api/users/get?id=2');
  await show(base, 'POST', '/api/users/create', { name: 'Barbara Liskov', email: 'barbara@example.org' });
  await show(base, 'POST', '/api/users/create', { name: 'Again', email: 'barbara@example.org' });
  await show(base, 'POST', '/api/users/create', { name: '', email: 'not-an-address' });
  await show(base, 'GET', '/api/users/get?id=99');
  const doc = (await (await fetch(`${base}/openapi.json`, { signal: AbortSignal.timeout(5000) })).json()) as { openapi: string; paths: Record<string, object> };
  for (const [path, ops] of Object.entries(doc.paths)) console.log(`openapi ${doc.openapi}: ${Object.keys(ops).join(',').toUpperCase()} ${path}`);
}

async function main(): Promise<void> {
  const serve = process.argv.includes('--serve');
  const broker = await startBroker({ listen: ['tcp://127.0.0.1:0'] });
  const serviceBus = await connect(broker.urls[0]!, { name: 'users-service' });
  const gatewayBus = await connect(broker.urls[0]!, { name: 'http-gateway' });
  const service = serveUsers(serviceBus);
  const gateway = await startGateway({
    bus: gatewayBus,
    services: [users],
    listen: 'http://127.0.0.1:0',
    routes: [{ path: '/users', service: 'users', method: 'list' }],
    info: { title: 'Users API' },
  });
  console.log(`gateway listening on ${gateway.url} pid=${process.pid}`);
  try {
    if (serve) {
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      console.log('stopping');
    } else {
      await demo(gateway.url);
    }
  } finally {
    await gateway.close();
    await service.close();
    await serviceBus.close();
    await gatewayBus.close();
    await broker.close();
  }
  console.log('OK');
}

await main();
