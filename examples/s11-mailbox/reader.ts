/**
 * Read a mailbox: `node reader.js <url> <user> <owner> <count> [crash]`. Prints each
 * message with the sender identity the broker stamped, and acknowledges it — unless
 * `crash`: then it prints the first one and waits, unacknowledged, to be killed.
 */
import { connect, mailbox, type PlexusError } from '../../src/index.js';
import { exitWithParent } from '../shared/proc.js';
import { PASSWORDS } from './users.js';

const [url, user, owner, countArg, mode] = process.argv.slice(2);
if (!url || !user || !owner || !countArg) {
  console.error('usage: reader.js <url> <user> <owner> <count> [crash]');
  process.exit(2);
}
exitWithParent();
const count = Number(countArg);
const bus = await connect(url, { user, pass: PASSWORDS[user] ?? '', timeoutMs: 5000 });
try {
  let n = 0;
  for await (const m of mailbox(bus, owner).read({ ack: 'manual', prefetch: 4 })) {
    console.log(`${user} read '${m.string()}' from ${m.from} (delivery ${m.deliveryCount})`);
    if (mode === 'crash') await new Promise(() => undefined); // dies before acking
    await m.ack();
    if (++n >= count) break;
  }
  console.log(`${user} acknowledged ${n} messages`);
} catch (err) {
  console.log(`${user} may not read ${owner}'s mailbox: ${(err as PlexusError).code}`);
} finally {
  await bus.close();
}
