/** Stream sender peer: waits for `go`, sends `bytes` in 64 KiB chunks, reports `done`. */
import { config, expect, now, onExit, peerMain, report } from './lib/child.js';
import { plexusStreamWriter, rawStreamWriter, type StreamWriter } from './peers/stream.js';

export type StreamSystem = 'raw' | 'raw-relay' | 'plexus-unix' | 'plexus-tcp' | 'plexus-unix-16m';

export interface StreamPeerConfig {
  readonly system: StreamSystem;
  /** Socket path (raw: the reader's; raw-relay: the relay's output) or broker URL (plexus). */
  readonly target: string;
  /** raw-relay: the relay's input socket, where the writer connects. */
  readonly writerTarget?: string;
  readonly bytes: number;
  /** Plexus stream credit window in bytes; the client's default when omitted. */
  readonly window?: number;
}

peerMain(async () => {
  const cfg = config<StreamPeerConfig>();
  let w: StreamWriter;
  switch (cfg.system) {
    case 'raw':
      w = await rawStreamWriter(cfg.target);
      break;
    case 'raw-relay':
      w = await rawStreamWriter(cfg.writerTarget ?? '');
      break;
    case 'plexus-unix':
    case 'plexus-tcp':
    case 'plexus-unix-16m':
      w = await plexusStreamWriter(cfg.target, 'bench.stream', cfg.window);
      break;
  }
  onExit(() => w.close());
  report({ t: 'ready' });
  await expect('go');
  const t0 = now();
  await w.writeAll(cfg.bytes);
  report({ t: 'done', seconds: now() - t0 });
});
