/** Request/reply responder peer: starts the system's echo responder and reports `ready`. */
import { config, onExit, peerMain, report } from './lib/child.js';
import type { Responder } from './peers/types.js';
import type { RrPeerConfig } from './rr-client.js';

peerMain(async () => {
  const cfg = config<RrPeerConfig>();
  let r: Responder;
  switch (cfg.system) {
    case 'plexus-unix':
    case 'plexus-tcp':
      r = await (await import('./peers/plexus.js')).plexusResponder(cfg.target);
      break;
    case 'nats':
      r = await (await import('./peers/nats.js')).natsResponder();
      break;
    case 'grpc':
      r = await (await import('./peers/grpc.js')).grpcResponder();
      break;
    case 'http':
      r = await (await import('./peers/http.js')).httpResponder();
      break;
    case 'ipc':
      throw new Error('the ipc echo child is forked by the requester itself');
  }
  onExit(() => r.close());
  report({ t: 'ready', address: r.address });
});
