/**
 * S17 client: connects over TCP, calls `time.now` and `echo`, and prints each reply with
 * the identity the broker stamped on it.
 *
 * Usage: PLEXUS_TOKEN=<token> node client.js tcp://127.0.0.1:<port>
 */
import { connect } from '../../src/index.js';

const url = process.argv[2];
const token = process.env['PLEXUS_TOKEN'];
if (!url || !token) throw new Error('usage: PLEXUS_TOKEN=<token> client.js <broker url>');
setTimeout(() => process.exit(9), 30_000).unref();

const bus = await connect(url, { token, name: 's17-client' });
console.log(`connected to ${url} as ${bus.server!.identity}`);

const time = await bus.request('time.now', undefined, { timeout: 3000 });
console.log(`time.now -> ${time.string()} (reply from ${time.from})`);

const echo = await bus.request('echo', 'hello from the tcp side', { timeout: 3000 });
console.log(`echo -> ${echo.string()} (reply from ${echo.from})`);

await bus.close();
