/**
 * Pub/sub receiver peer: subscribes, reports `ready`, counts `count` messages and reports
 * the time from the first to the last. If messages stop arriving for STALL_MS it reports
 * what it got (a partial result the runner shows as a failure, never as a rate).
 */
import { config, now, onExit, peerMain, report } from './lib/child.js';
import type { OnMessage, Subscriber } from './peers/types.js';
import type { PubSubPeerConfig } from './pubsub-pub.js';

const STALL_MS = 5000;

peerMain(async () => {
  const cfg = config<PubSubPeerConfig>();
  let received = 0;
  let bytes = 0;
  let first = 0;
  let last = 0;
  let done = false;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const onMessage: OnMessage = (len) => {
    if (received === 0) first = now();
    received++;
    bytes += len;
    if (received === cfg.count) {
      last = now();
      finish();
    }
  };
  let sub: Subscriber;
  switch (cfg.system) {
    case 'plexus-unix':
    case 'plexus-tcp':
      sub = await (await import('./peers/plexus.js')).plexusSubscriber(cfg.target, cfg.subject, onMessage);
      break;
    case 'nats':
      sub = await (await import('./peers/nats.js')).natsSubscriber(cfg.subject, onMessage);
      break;
    case 'redis':
      sub = await (await import('./peers/redis.js')).redisSubscriber(cfg.subject, onMessage);
      break;
    case 'raw-direct':
      sub = await (await import('./peers/raw.js')).rawDirectSubscriber(cfg.target, onMessage);
      break;
    case 'raw-relay':
      sub = await (await import('./peers/raw.js')).rawRelaySubscriber(cfg.target, onMessage);
      break;
  }
  onExit(() => sub.close());
  report({ t: 'ready' });

  let seen = -1;
  let quietSince = Date.now();
  const watchdog = setInterval(() => {
    if (done) return;
    if (received !== seen) {
      seen = received;
      quietSince = Date.now();
    } else if (received > 0 && Date.now() - quietSince > STALL_MS) {
      done = true;
      report({ t: 'result', received, bytes, seconds: NaN, partial: true });
    }
  }, 250);
  await finished;
  clearInterval(watchdog);
  if (!done) {
    done = true;
    report({ t: 'result', received, bytes, seconds: last - first, partial: false });
  }
});
