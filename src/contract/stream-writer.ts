/**
 * Writing a sequence of items to a method stream in batches. One stream write per item
 * would make one DATA frame per item: for small items the 2 MiB window then holds
 * hundreds of thousands of frames, and a producer that never waits starves the event
 * loop. Items are framed into a batch that is written when it reaches
 * {@link BATCH_BYTES}, or as soon as the source is not ready with its next item (checked
 * by one turn of the event loop), so a slow source still sees each item delivered at once.
 */
import type { PlexusStream } from '../client/index.js';
import { StreamMessageKind, frameMessage } from './stream-frames.js';

/** A batch is written once it holds this many bytes. */
export const BATCH_BYTES = 32 * 1024;

const NOT_READY = Symbol('not ready');

/** After pending I/O: setImmediate on Node; browsers have only a (clamped) timer. */
const afterIo: (fn: () => void) => unknown =
  (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate ?? ((fn) => setTimeout(fn, 0));

function nextTurn(): Promise<typeof NOT_READY> {
  return new Promise((resolve) => afterIo(() => resolve(NOT_READY)));
}

/**
 * Write every item of `items` as an ITEM message (after `encode`), stopping early when
 * `stop()` turns true. Awaiting the writes gives backpressure: the stream's credit window
 * bounds what is in flight.
 */
export async function writeItems<T>(
  stream: PlexusStream,
  items: AsyncIterable<T> | Iterable<T>,
  encode: (item: T) => Uint8Array | Promise<Uint8Array>,
  stop: () => boolean,
): Promise<void> {
  const it: AsyncIterator<T> | Iterator<T> =
    Symbol.asyncIterator in items ? (items as AsyncIterable<T>)[Symbol.asyncIterator]() : (items as Iterable<T>)[Symbol.iterator]();
  let batch: Uint8Array[] = [];
  let bytes = 0;
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const out = batch.length === 1 ? batch[0]! : concatAll(batch, bytes);
    batch = [];
    bytes = 0;
    await stream.write(out);
  };
  let done = false;
  // One event-loop turn per batch: if it passes before the next item, the source is slow.
  let turn: Promise<typeof NOT_READY> | undefined;
  try {
    for (;;) {
      if (stop()) break;
      const next = Promise.resolve(it.next());
      let r: IteratorResult<T> | typeof NOT_READY;
      try {
        r = batch.length > 0 ? await Promise.race([next, (turn ??= nextTurn())]) : await next;
        if (r === NOT_READY) {
          turn = undefined;
          await flush();
          r = await next;
        }
        if (r.done) {
          done = true;
          break;
        }
        const framed = frameMessage(StreamMessageKind.ITEM, await encode(r.value));
        batch.push(framed);
        bytes += framed.length;
      } catch (err) {
        // Items produced before a failing one are still delivered, ahead of the error.
        done = true;
        await flush().catch(() => {});
        throw err;
      }
      if (bytes >= BATCH_BYTES) {
        turn = undefined;
        await flush();
        // A source that never waits would otherwise keep the loop to itself while the
        // window has room: let I/O (credit, the peer's reply, a cancel) in after each batch.
        await nextTurn();
      }
    }
    await flush();
  } finally {
    // Stopped early: let the source clean up (generators run their finally).
    if (!done) await it.return?.();
  }
}

function concatAll(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
