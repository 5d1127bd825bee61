/** What every section of the runner shares. */
import type { Availability } from './backends.js';
import { startPeer, type Peer } from './proc.js';

export interface RunContext {
  readonly quick: boolean;
  readonly repeat: number;
  /** Temp directory for every Unix socket. */
  readonly tmp: string;
  readonly nats: Availability;
  readonly redis: Availability;
  /** Run only these systems (ids), if set. */
  readonly only: ReadonlySet<string> | undefined;
  /** Payload sizes for pub/sub, if overridden. */
  readonly sizes: readonly number[] | undefined;
  /** Progress line on stderr. */
  log(line: string): void;
}

/** One measured quantity over several runs. */
export interface Sample {
  readonly values: number[];
  readonly failures: string[];
}

export function newSample(): Sample {
  return { values: [], failures: [] };
}

let socketSeq = 0;

/** A fresh socket path in the run's temp dir. */
export function socketPath(ctx: RunContext, name: string): string {
  return `${ctx.tmp}/${name}-${++socketSeq}.sock`;
}

export function wanted(ctx: RunContext, id: string): boolean {
  return !ctx.only || ctx.only.has(id);
}

/** A Plexus broker in its own process, listening on a unix socket and on tcp port 0. */
export async function startBrokerProcess(ctx: RunContext): Promise<{ peer: Peer; unix: string; tcp: string }> {
  const { peer, ready } = await startPeer('broker', 'broker-process.js', {
    listen: [`unix://${socketPath(ctx, 'plexus')}`, 'tcp://127.0.0.1:0'],
  });
  const urls = ready['urls'] as string[];
  const unix = urls.find((u) => u.startsWith('unix:'));
  const tcp = urls.find((u) => u.startsWith('tcp:'));
  if (!unix || !tcp) throw new Error(`broker reported unexpected urls ${JSON.stringify(urls)}`);
  return { peer, unix, tcp };
}

/** Error text short enough for a table footnote. */
export function brief(err: unknown): string {
  const s = err instanceof Error ? err.message : String(err);
  const line = s.split('\n').find((l) => l.trim() !== '') ?? s;
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}
