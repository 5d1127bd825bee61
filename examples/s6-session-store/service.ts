/**
 * One instance of a web service that keeps its sessions in the `sessions` KV bucket:
 * `node service.js <url> <name> <user> <items>`. It makes sure the user's session
 * exists (`create`, only if absent), then adds `items` items to the cart, each as a
 * compare-and-set `update` on the revision it read — retried when the other instance
 * wrote first — and refreshes the session's TTL with every write.
 */
import { connect, ErrorCode, kv, PlexusError } from '../../src/index.js';

interface Session {
  user: string;
  cart: string[];
}

const [url, name, user, items] = process.argv.slice(2);
const TTL_MS = 3000;
const bus = await connect(url!, { name: `svc-${name}`, timeoutMs: 3000 });
const sessions = kv(bus, 'sessions', { ttlMs: TTL_MS });
const key = `session.${user}`;

try {
  await sessions.create(key, JSON.stringify({ user, cart: [] } satisfies Session));
  console.log(`created ${key}`);
} catch (err) {
  if (!(err instanceof PlexusError && err.code === ErrorCode.KV_KEY_EXISTS)) throw err;
  console.log(`${key} already exists (the other instance made it)`);
}

let conflicts = 0;
for (let i = 1; i <= Number(items); i++) {
  // Bounded: a conflict means the other instance wrote; it stops after its own items.
  for (let attempt = 0; attempt < 100; attempt++) {
    const e = await sessions.get(key);
    if (!e) throw new Error(`${key} vanished`);
    const s = e.json<Session>();
    s.cart.push(`${name}-${i}`);
    try {
      await sessions.update(key, JSON.stringify(s), e.revision, { ttlMs: TTL_MS });
      break;
    } catch (err) {
      if (!(err instanceof PlexusError && err.code === ErrorCode.KV_WRONG_REVISION)) throw err;
      conflicts++;
    }
  }
}
console.log(`added ${items} items; ${conflicts} compare-and-set conflicts retried`);
await bus.close();
