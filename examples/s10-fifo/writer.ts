/**
 * S10 writer: opens the FIFO by name and writes `count` lines of log-like text, some
 * longer than PIPE_BUF (4096 bytes on Linux), which a bare `write()` could not keep in
 * one piece. Prints `open` once the FIFO is open and starts on a line on stdin.
 * Usage: node writer.js <fifo path> <name> <count>
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { openFifoWriter } from '../../src/index.js';

const [path, name, count] = process.argv.slice(2);
setTimeout(() => process.exit(9), 30_000).unref();
const fifo = await openFifoWriter(`fifo://${path}`, { name: name!, timeoutMs: 5000 });
// Start together with the others: say we are open, wait for the reader's "go" on stdin.
console.log('open');
await new Promise((resolve) => process.stdin.once('data', resolve));
process.stdin.destroy();
for (let i = 1; i <= Number(count); i++) {
  // Every third line is long: 10 000 bytes, three records in the pipe.
  const filler = i % 3 === 0 ? ` ${name!.repeat(Math.ceil(10_000 / name!.length))}`.slice(0, 10_000) : '';
  await fifo.write(`${name} line ${i}${filler}`);
  await sleep(5); // a steady trickle, so the writers overlap in time
}
await fifo.close(); // BYE: the reader learns this writer is done
