/**
 * The broker with auth and the embedded durable service: `node broker.js <port> <dir>`.
 * Prints `ready <url>`; runs until killed.
 */
import { startBroker } from '../../src/index.js';
import { exitWithParent } from '../shared/proc.js';
import { AUTH } from './users.js';

const [port, dir] = process.argv.slice(2);
if (port === undefined || !dir) {
  console.error('usage: broker.js <port> <dir>');
  process.exit(2);
}
exitWithParent();
const server = await startBroker({ listen: [`tcp://127.0.0.1:${port}`], auth: AUTH, durable: { dir } });
console.log(`ready ${server.urls[0]}`);
