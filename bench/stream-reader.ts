/** Stream receiver peer: counts bytes, reports first-byte → end time. */
import { config, now, onExit, peerMain, report } from './lib/child.js';
import { plexusStreamReader, rawRelayStreamReader, rawStreamReader, type ByteSink, type StreamReader } from './peers/stream.js';
import type { StreamPeerConfig } from './stream-writer.js';

peerMain(async () => {
  const cfg = config<StreamPeerConfig>();
  let bytes = 0;
  let first = 0;
  let finish!: (seconds: number) => void;
  const finished = new Promise<number>((r) => (finish = r));
  const sink: ByteSink = {
    data(n) {
      if (bytes === 0) first = now();
      bytes += n;
    },
    end: () => finish(now() - first),
  };
  let reader: StreamReader;
  switch (cfg.system) {
    case 'raw':
      reader = await rawStreamReader(cfg.target, sink);
      break;
    case 'raw-relay':
      reader = await rawRelayStreamReader(cfg.target, sink);
      break;
    case 'plexus-unix':
    case 'plexus-tcp':
    case 'plexus-unix-16m':
      reader = await plexusStreamReader(cfg.target, 'bench.stream', sink, cfg.window);
      break;
  }
  onExit(() => reader.close());
  report({ t: 'ready' });
  const seconds = await finished;
  report({ t: 'result', bytes, seconds });
});
