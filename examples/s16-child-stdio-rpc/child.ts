/**
 * S16 child: started by the parent's `spawn()`, it gets its connection from
 * `connectParent()` (over stdin/stdout by default, so it logs on stderr only). Serves
 * `child.sum` and publishes `child.event.*` as it works; a cancelled request aborts the
 * handler's signal, and the child reports that it saw it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { connectParent, type PlexusError, type RequestContext } from '../../src/index.js';
import { eventSubject, type ChildEvent, type SumReply, type SumRequest } from './protocol.js';

const log = (line: string): boolean => process.stderr.write(`${line}\n`);
setTimeout(() => process.exit(9), 30_000).unref(); // never outlive the parent by long

// connectParent() reads where to dial from the environment spawn() set, and (over stdio)
// sends console output to stderr. We exit ourselves once the connection ends, to log it.
const bus = await connectParent({ name: 's16-child', exitOnDisconnect: false });
const emit = (e: ChildEvent): void => bus.publish(eventSubject(e), JSON.stringify(e));

async function sum(req: SumRequest, ctx: RequestContext): Promise<SumReply> {
  if (!Array.isArray(req.numbers) || !req.numbers.every((n) => typeof n === 'number')) {
    throw new TypeError('numbers must be an array of numbers'); // reaches the caller as PLEXUS_ERR_HANDLER_FAILED
  }
  let partial = 0;
  for (let i = 0; i < req.numbers.length; i++) {
    try {
      // The caller's cancel (or deadline) aborts ctx.signal, which ends this sleep.
      await sleep(req.stepDelayMs, undefined, { signal: ctx.signal });
    } catch (err) {
      if (!ctx.signal.aborted) throw err;
      const why = ctx.signal.reason as PlexusError; // CANCELLED, or TIMEOUT past the deadline
      const reason = `${why.code}: ${why.message}`;
      log(`child: request ${req.id} cancelled by ${ctx.from} after ${i} of ${req.numbers.length} steps (${reason})`);
      emit({ kind: 'cancelled', id: req.id, done: i, reason });
      throw ctx.signal.reason; // nobody is waiting for an answer any more
    }
    partial += req.numbers[i]!;
    emit({ kind: 'progress', id: req.id, done: i + 1, total: req.numbers.length, partial });
  }
  emit({ kind: 'finished', id: req.id, sum: partial });
  return { id: req.id, sum: partial };
}

bus.serve('child.sum', async (msg, ctx) => JSON.stringify(await sum(msg.json<SumRequest>(), ctx)));
// The parent says hello once it listens to our events: we announce ourselves, then answer.
bus.serve('child.hello', () => {
  emit({ kind: 'ready', pid: process.pid });
  return String(process.pid);
});
log(`child pid=${process.pid}: serving child.sum over ${process.env.PLEXUS_PARENT ?? '?'}`);

const reason = await bus.closed;
log(`child: connection closed (${reason?.code ?? 'normally'}), exiting`);
process.exit(0);
