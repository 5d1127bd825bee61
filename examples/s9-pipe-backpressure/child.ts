/**
 * S9 child: a slow reader at the end of a pipe. Its stdin/stdout are the transport to
 * the parent's broker (`connect('stdio:')`), so it logs on stderr only. It accepts one
 * stream with a small window, reads it slowly, reports progress, and on EOF prints
 * `EOF after <n> bytes` and exits 0.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from '../../src/index.js';
import { PIPE, PROGRESS, READ_DELAY_MS, READY, WINDOW, type Progress } from './protocol.js';

const log = (line: string): boolean => process.stderr.write(`${line}\n`);
// stdout is the wire: anything printed there would corrupt the frames.
console.log = console.info = console.warn = console.debug = console.error;
// Never outlive the parent by long (its stdin EOF also ends the connection).
setTimeout(() => process.exit(9), 30_000).unref();

// No reconnect: when the parent goes away, stdin ends and so does this process.
const bus = await connect('stdio:', { name: 's9-child', reconnect: false });
const listener = bus.acceptStreams(PIPE, { window: WINDOW });
await bus.flush();
bus.publish(READY, '');
log(`child pid=${process.pid}: accepting on ${PIPE} with a ${WINDOW}-byte window`);

let read = 0;
for await (const stream of listener) {
  listener.close();
  for (;;) {
    const chunk = await stream.read(); // reading grants the parent more credit
    if (chunk === null) break;
    read += chunk.length;
    // Priority: the report rides the control lane with the credit it follows, so the
    // parent never sees credit for bytes before it sees the report of reading them.
    bus.publish(PROGRESS, JSON.stringify({ read } satisfies Progress), { priority: true });
    await sleep(READ_DELAY_MS); // a slow consumer
  }
}
log(`EOF after ${read} bytes`);
await bus.drain();
process.exit(0);
