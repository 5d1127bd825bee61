/**
 * Pub/sub sender peer: connects, reports `ready`, waits for `go`, publishes `count`
 * messages of `size` bytes (respecting the client's backpressure), reports `done`.
 * Adapters are imported on demand so a peer loads only the client it measures.
 */
import { config, expect, now, onExit, peerMain, report } from './lib/child.js';
import type { Publisher } from './peers/types.js';

export type PubSubSystem = 'plexus-unix' | 'plexus-tcp' | 'nats' | 'redis' | 'raw-direct' | 'raw-relay';

/** What the runner passes to both pub/sub peers. */
export interface PubSubPeerConfig {
  readonly system: PubSubSystem;
  /** Broker URL (plexus) or socket path (raw); unused for nats/redis. */
  readonly target: string;
  readonly subject: string;
  readonly size: number;
  readonly count: number;
}

peerMain(async () => {
  const cfg = config<PubSubPeerConfig>();
  let pub: Publisher;
  switch (cfg.system) {
    case 'plexus-unix':
    case 'plexus-tcp':
      pub = await (await import('./peers/plexus.js')).plexusPublisher(cfg.target, cfg.subject);
      break;
    case 'nats':
      pub = await (await import('./peers/nats.js')).natsPublisher(cfg.subject);
      break;
    case 'redis':
      pub = await (await import('./peers/redis.js')).redisPublisher(cfg.subject);
      break;
    case 'raw-direct':
    case 'raw-relay':
      pub = await (await import('./peers/raw.js')).rawPublisher(cfg.target);
      break;
  }
  onExit(() => pub.close());
  const payload = new Uint8Array(cfg.size).fill(0x61);
  report({ t: 'ready' });
  await expect('go');
  const t0 = now();
  await pub.publishAll(payload, cfg.count);
  report({ t: 'done', seconds: now() - t0 });
});
