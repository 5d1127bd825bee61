/**
 * S17 server: connects to the broker over a Unix socket and serves `time.now` and
 * `echo`, printing who each request came from. Stops cleanly on SIGTERM.
 *
 * Usage: PLEXUS_TOKEN=<token> node server.js unix:///path/to/broker.sock
 */
import { connect } from '../../src/index.js';

const url = process.argv[2];
const token = process.env['PLEXUS_TOKEN'];
if (!url || !token) throw new Error('usage: PLEXUS_TOKEN=<token> server.js <broker url>');
setTimeout(() => process.exit(9), 30_000).unref(); // never outlive the example by long

const bus = await connect(url, { token, name: 's17-server' });
const me = bus.server!.identity;
console.log(`connected to ${url} as ${me}`);

bus.serve('time.now', (_msg, ctx) => {
  console.log(`time.now requested by ${ctx.from}`);
  return JSON.stringify({ now: new Date().toISOString(), servedBy: me });
});
bus.serve('echo', (msg, ctx) => {
  console.log(`echo requested by ${ctx.from}: ${msg.string()}`);
  return msg.data;
});
await bus.flush(); // the broker knows we serve both before we say so
console.log('ready');

process.once('SIGTERM', () => {
  console.log('SIGTERM: draining');
  void bus.drain().then(() => process.exit(0));
});
