/**
 * The calculator's handlers, written once as Plexus service handlers: plain functions of
 * (input, ctx) that return a value, yield values (server streaming) or read an async
 * iterable (client streaming), and throw ServiceError for application errors. The same
 * object is served over gRPC (`serveGrpc`) and on the bus (`serveService`).
 */
import { fileURLToPath } from 'node:url';
import { ServiceError, type HandlerContext } from '../../src/index.js';

/** The .proto, in the source tree (also when running from dist/). */
export const PROTO_PATH = fileURLToPath(new URL('../../../examples/s3-grpc-calculator/calculator.proto', import.meta.url));

/** How a Sleep call ended, as its handler saw it. */
export type SleepOutcome = 'slept' | 'cancelled' | 'timeout';

/** The handlers. `onSleepEnd` reports how each Sleep ended (cancellations have no reply to carry it). */
export function calculatorHandlers(onSleepEnd: (outcome: SleepOutcome, deadlineInMs: number) => void = () => undefined) {
  return {
    Add({ a, b }: { a: number; b: number }) {
      return { sum: a + b };
    },
    Divide({ a, b }: { a: number; b: number }) {
      if (b === 0) throw new ServiceError('INVALID_ARGUMENT', 'division by zero', { dividend: a });
      return { quotient: a / b };
    },
    async Sleep({ ms }: { ms: number }, ctx: HandlerContext) {
      const deadlineInMs = ctx.deadline === undefined ? 0 : ctx.deadline - Date.now();
      try {
        await new Promise<void>((resolve, reject) => {
          if (ctx.signal.aborted) return reject(ctx.signal.reason as Error);
          const timer = setTimeout(resolve, ms);
          ctx.signal.addEventListener(
            'abort',
            () => {
              clearTimeout(timer);
              reject(ctx.signal.reason as Error);
            },
            { once: true },
          );
        });
      } catch (err) {
        const outcome = (err as { code?: string }).code === 'PLEXUS_ERR_TIMEOUT' ? 'timeout' : 'cancelled';
        onSleepEnd(outcome, deadlineInMs);
        throw err;
      }
      onSleepEnd('slept', deadlineInMs);
      return { outcome: 'slept', deadlineInMs: Math.max(0, Math.round(deadlineInMs)) };
    },
    async *Count({ to }: { to: number }, ctx: HandlerContext) {
      for (let n = 1; n <= to; n++) {
        ctx.signal.throwIfAborted();
        yield { n };
      }
    },
    async Sum(items: AsyncIterable<{ value: number }>) {
      let sum = 0;
      for await (const item of items) sum += item.value;
      return { sum };
    },
  };
}

/** RunningSum, the bidirectional rpc: the total after each number, as each arrives. */
export async function* runningSum(items: AsyncIterable<Record<string, unknown>>): AsyncGenerator<{ sum: number }> {
  let sum = 0;
  for await (const item of items) {
    sum += Number(item['value']);
    yield { sum };
  }
}
