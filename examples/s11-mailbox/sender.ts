/**
 * Leave messages in someone's mailbox: `node sender.js <url> <user> <to> <message>...`.
 * Each send resolves once stored durably; then it prints `sent` and waits (to be killed).
 */
import { connect, mailbox } from '../../src/index.js';
import { exitWithParent } from '../shared/proc.js';
import { PASSWORDS } from './users.js';

const [url, user, to, ...messages] = process.argv.slice(2);
if (!url || !user || !to || messages.length === 0) {
  console.error('usage: sender.js <url> <user> <to> <message>...');
  process.exit(2);
}
exitWithParent();
const bus = await connect(url, { user, pass: PASSWORDS[user] ?? '', timeoutMs: 5000 });
for (const text of messages) {
  const { seq } = await mailbox(bus, to).send(text);
  console.log(`${user} -> ${to}: '${text}' stored as #${seq}`);
}
console.log('sent');
await new Promise(() => undefined); // stays connected until the parent kills it
