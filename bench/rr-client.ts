/**
 * Request/reply caller peer. Phase 1: `warmup` sequential calls, then `samples`
 * sequential calls each timed (p50/p99). Phase 2: `inflight` concurrent callers for a
 * short warm-up and then `seconds`, counting completed round trips (req/s).
 */
import { config, now, onExit, peerMain, report } from './lib/child.js';
import { percentile } from './lib/stats.js';
import type { Requester } from './peers/types.js';

export type RrSystem = 'plexus-unix' | 'plexus-tcp' | 'nats' | 'grpc' | 'http' | 'ipc';

export interface RrPeerConfig {
  readonly system: RrSystem;
  /** Broker URL, server address, or '' (nats, ipc). */
  readonly target: string;
  readonly size: number;
  readonly warmup: number;
  readonly samples: number;
  readonly inflight: number;
  readonly seconds: number;
}

async function open(cfg: RrPeerConfig): Promise<Requester> {
  switch (cfg.system) {
    case 'plexus-unix':
    case 'plexus-tcp':
      return (await import('./peers/plexus.js')).plexusRequester(cfg.target);
    case 'nats':
      return (await import('./peers/nats.js')).natsRequester();
    case 'grpc':
      return (await import('./peers/grpc.js')).grpcRequester(cfg.target);
    case 'http':
      return (await import('./peers/http.js')).httpRequester(cfg.target, cfg.inflight);
    case 'ipc':
      return (await import('./peers/ipc.js')).ipcRequester();
  }
}

/** Keep `inflight` calls going for `seconds`; returns completed calls per second. */
async function saturate(req: Requester, payload: Uint8Array, inflight: number, seconds: number): Promise<number> {
  let stop = false;
  let completed = 0;
  const worker = async (): Promise<void> => {
    while (!stop) {
      const n = await req.call(payload);
      if (n !== payload.length) throw new Error(`reply of ${n} bytes, expected ${payload.length}`);
      completed++;
    }
  };
  const workers = Array.from({ length: inflight }, () => worker());
  const t0 = now();
  const c0 = completed;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const done = completed - c0;
  const elapsed = now() - t0;
  stop = true;
  await Promise.all(workers);
  return done / elapsed;
}

peerMain(async () => {
  const cfg = config<RrPeerConfig>();
  const req = await open(cfg);
  onExit(() => req.close());
  const payload = new Uint8Array(cfg.size).fill(0x62);
  report({ t: 'ready' });

  for (let i = 0; i < cfg.warmup; i++) await req.call(payload);
  const lat = new Float64Array(cfg.samples);
  for (let i = 0; i < cfg.samples; i++) {
    const t0 = process.hrtime.bigint();
    const n = await req.call(payload);
    lat[i] = Number(process.hrtime.bigint() - t0) / 1000; // µs
    if (n !== payload.length) throw new Error(`reply of ${n} bytes, expected ${payload.length}`);
  }
  lat.sort();
  let sum = 0;
  for (const v of lat) sum += v;

  await saturate(req, payload, cfg.inflight, Math.min(0.5, cfg.seconds / 3)); // warm the concurrent path
  const rps = await saturate(req, payload, cfg.inflight, cfg.seconds);
  report({ t: 'result', p50: percentile(lat, 50), p99: percentile(lat, 99), mean: sum / lat.length, rps });
});
