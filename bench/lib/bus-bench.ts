/** Pieces the backend overhead benches (bench/backends/*.ts) share. */
import { randomUUID } from 'node:crypto';
import { connectBus } from '../../src/index.js';

/** Resolves `promise` on the `n`th `hit()`. */
export function countdown(n: number): { hit(): void; promise: Promise<void> } {
  let seen = 0;
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { hit: () => (++seen === n ? resolve() : undefined), promise };
}

/**
 * Messages/s of `n` publishes of `payload` through Plexus on `url`, counted at a
 * subscriber on its own connection; `flushEvery` > 0 flushes after that many so the
 * publisher's buffers stay bounded like the raw client's.
 */
export async function busPubSubRate(url: string, n: number, payload: Uint8Array, flushEvery = 0): Promise<number> {
  const [pub, sub] = [await connectBus(url), await connectBus(url)];
  const subject = `bench.${randomUUID()}`;
  const got = countdown(n);
  sub.subscribe(subject, { callback: () => got.hit(), maxPending: n });
  await sub.flush();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    pub.publish(subject, payload);
    if (flushEvery > 0 && i % flushEvery === flushEvery - 1) await pub.flush();
  }
  await got.promise;
  const rate = n / ((performance.now() - t0) / 1000);
  await Promise.all([pub.close(), sub.close()]);
  return rate;
}
