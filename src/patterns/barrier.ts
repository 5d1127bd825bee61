/**
 * A distributed barrier: `parties` processes call `wait()` and all of them are let go
 * together once the last one arrives (docs/coordination.md). A party that times out,
 * aborts or dies leaves the barrier, so it is never counted as present.
 *
 * ```ts
 * const start = barrier(bus, 'load-test', { parties: 8 });
 * await start.wait({ timeoutMs: 30_000 });   // everyone starts together
 * ```
 */
import type { Bus } from '../client/index.js';
import { embeddedOnly } from './provider.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { CoKind, MAX_PERMITS, MAX_WAIT_MS, checkCoName } from '../durable/coord-config.js';
import { coCall, randomId, retryable, sleep, waitTimeout } from './lock-lease.js';

/** Options of {@link barrier}. */
export interface BarrierOptions {
  /** How many parties must arrive (1 – 10000). Every party must agree. */
  readonly parties: number;
  /** Timeout added to each held request for the round trip. @default 5000 */
  readonly callTimeoutMs?: number;
}

/** Options of {@link Barrier.wait}. */
export interface BarrierWaitOptions {
  /** Give up (PLEXUS_ERR_TIMEOUT) after this long, leaving the barrier. @default 30000 */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** A named distributed barrier. */
export interface Barrier {
  readonly name: string;
  readonly parties: number;
  /** Arrive and wait for the others; resolves with the generation that completed. */
  wait(options?: BarrierWaitOptions): Promise<{ generation: number }>;
}

/** The barrier `name` for `options.parties` parties, through `bus`. */
export function barrier(on: Bus, name: string, options: BarrierOptions): Barrier {
  const bus = embeddedOnly(on, 'barrier');
  checkCoName(name);
  const parties = options.parties;
  if (!Number.isSafeInteger(parties) || parties < 1 || parties > MAX_PERMITS) {
    throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `parties must be an integer from 1 to ${MAX_PERMITS}`, { details: { parties } });
  }
  const callTimeoutMs = options.callTimeoutMs ?? 5000;
  return {
    name,
    parties,
    async wait(o = {}) {
      const timeoutMs = o.timeoutMs ?? 30_000;
      const signal = o.signal;
      if (signal?.aborted) throw signal.reason;
      const party = randomId('party');
      const until = Date.now() + timeoutMs;
      let attempt = 0;
      // Bounded by `until`: each pass is held by the service (or sleeps) and checks the time.
      for (;;) {
        const waitMs = Math.max(0, Math.min(MAX_WAIT_MS, until - Date.now()));
        try {
          const r = await coCall<{ released: boolean; generation?: number }>(bus, CoKind.BARRIER, 'WAIT', name, { parties, party, waitMs }, waitMs + callTimeoutMs, signal);
          if (r.released) return { generation: r.generation ?? 0 };
        } catch (err) {
          if (signal?.aborted) throw signal.reason;
          if (!retryable(err)) throw err;
          await sleep(Math.min(50 * 2 ** Math.min(attempt++, 5), Math.max(0, until - Date.now())), signal);
        }
        if (Date.now() >= until) throw waitTimeout(`barrier ${name}`, timeoutMs);
      }
    },
  };
}
