/**
 * A Plexus broker in its own process, for the benchmarks. Prints its URLs (one JSON line
 * on stdout) and, when forked by the runner, reports them as `ready`.
 *
 *   node dist/bench/broker-process.js '{"listen":["unix:///path/to/plexus.sock","tcp://127.0.0.1:0"]}'
 */
import { startBroker } from '../src/index.js';
import { config, onExit, peerMain, report } from './lib/child.js';

interface BrokerProcessConfig {
  readonly listen: readonly string[];
  /** Run the embedded durable service on this directory. */
  readonly durable?: string;
}

peerMain(async () => {
  const cfg = config<BrokerProcessConfig>();
  const broker = await startBroker({ listen: cfg.listen, ...(cfg.durable !== undefined ? { durable: { dir: cfg.durable } } : {}) });
  onExit(() => broker.close({ drainMs: 200 }));
  process.stdout.write(`${JSON.stringify({ urls: broker.urls })}\n`);
  report({ t: 'ready', urls: broker.urls });
});
