/** Bulk stream throughput (MB/s): raw Unix socket as the ceiling, Plexus streams when they exist. */
import { brief, newSample, socketPath, startBrokerProcess, wanted, type RunContext, type Sample } from '../lib/context.js';
import { startPeer, type Peer } from '../lib/proc.js';
import { bytesLabel, median, ratio, spread, table } from '../lib/stats.js';
import { plexusStreamsAvailable } from '../peers/stream.js';
import type { StreamPeerConfig, StreamSystem } from '../stream-writer.js';

export const STREAM_SYSTEMS: readonly { id: StreamSystem; label: string }[] = [
  { id: 'raw', label: 'raw unix socket, writer → reader' },
  { id: 'raw-relay', label: 'raw unix socket, via relay process' },
  { id: 'plexus-unix', label: 'plexus stream (unix)' },
  { id: 'plexus-tcp', label: 'plexus stream (tcp)' },
  // Diagnostic: the same with a larger credit window, to show how much is flow-control bound.
  { id: 'plexus-unix-16m', label: 'plexus stream (unix), window 16 MiB' },
];

/** Credit window per system; undefined = the client's default. */
const WINDOW: Partial<Record<StreamSystem, number>> = { 'plexus-unix-16m': 16 * 1024 * 1024 };

export const NOT_IMPLEMENTED = 'plexus stream: not implemented yet';

export type StreamResults = Map<StreamSystem, Sample>;

function totalBytes(ctx: RunContext): number {
  return (ctx.quick ? 32 : 512) * 1024 * 1024;
}

interface Setup {
  /** Where the reader listens/connects (a fresh path per raw run). */
  target: () => string;
  writerTarget?: string;
}

async function oneRun(ctx: RunContext, system: StreamSystem, setup: Setup): Promise<number> {
  const bytes = totalBytes(ctx);
  const window = WINDOW[system];
  const target = setup.target();
  const cfg: StreamPeerConfig = {
    system,
    target,
    bytes,
    ...(window ? { window } : {}),
    ...(setup.writerTarget ? { writerTarget: setup.writerTarget } : {}),
  };
  let reader: Peer | undefined;
  let writer: Peer | undefined;
  try {
    reader = (await startPeer('stream-reader', 'stream-reader.js', cfg)).peer;
    writer = (await startPeer('stream-writer', 'stream-writer.js', cfg)).peer;
    writer.send({ t: 'go' });
    const res = await reader.next('result', ctx.quick ? 60_000 : 180_000);
    await writer.next('done', 30_000);
    if (res['bytes'] !== bytes) throw new Error(`received ${String(res['bytes'])} bytes, expected ${bytes}`);
    return bytes / (res['seconds'] as number) / 1e6;
  } finally {
    await Promise.all([writer?.stop(), reader?.stop()]);
  }
}

/** Runs are interleaved (repeat → system). */
export async function runStream(ctx: RunContext): Promise<StreamResults> {
  const results: StreamResults = new Map();
  const setups = new Map<StreamSystem, Setup>();
  const peers: Peer[] = [];
  let broker: Awaited<ReturnType<typeof startBrokerProcess>> | undefined;
  try {
    for (const { id } of STREAM_SYSTEMS) {
      if (!wanted(ctx, id)) continue;
      const sample = newSample();
      results.set(id, sample);
      if (id === 'raw') {
        setups.set(id, { target: () => socketPath(ctx, 'stream') });
        continue;
      }
      if (id !== 'raw-relay' && !plexusStreamsAvailable()) {
        sample.failures.push(NOT_IMPLEMENTED);
        ctx.log(NOT_IMPLEMENTED);
        continue;
      }
      try {
        if (id === 'raw-relay') {
          const inPath = socketPath(ctx, 'stream-relay-in');
          const outPath = socketPath(ctx, 'stream-relay-out');
          peers.push((await startPeer('relay', 'raw-relay.js', { inPath, outPath, framed: false })).peer);
          setups.set(id, { target: () => outPath, writerTarget: inPath });
        } else {
          broker ??= await startBrokerProcess(ctx);
          const url = id === 'plexus-tcp' ? broker.tcp : broker.unix;
          setups.set(id, { target: () => url });
        }
      } catch (err) {
        sample.failures.push(brief(err));
        ctx.log(`stream ${id}: FAILED to start: ${brief(err)}`);
      }
    }
    for (let r = 0; r < ctx.repeat; r++) {
      for (const [id, setup] of setups) {
        const sample = results.get(id)!;
        const what = `stream ${id} ${bytesLabel(totalBytes(ctx))} run ${r + 1}/${ctx.repeat}`;
        try {
          const mbs = await oneRun(ctx, id, setup);
          sample.values.push(mbs);
          ctx.log(`${what}: ${mbs.toFixed(0)} MB/s`);
        } catch (err) {
          sample.failures.push(brief(err));
          ctx.log(`${what}: FAILED ${brief(err)}`);
        }
      }
    }
  } finally {
    await Promise.all([broker?.peer.stop(), ...peers.map((p) => p.stop())]);
  }
  return results;
}

export function streamTable(ctx: RunContext, results: StreamResults): string {
  const raw = median(results.get('raw')?.values ?? []);
  const relay = median(results.get('raw-relay')?.values ?? []);
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const { id, label } of STREAM_SYSTEMS) {
    const s = results.get(id);
    if (!s) continue;
    const m = median(s.values);
    let cell = m === undefined ? '—' : m.toFixed(0);
    if (s.failures[0] === NOT_IMPLEMENTED) cell = 'not implemented yet';
    else if (s.failures.length > 0) {
      cell = m === undefined ? 'failed' : `${cell} *`;
      notes.push(`${label}: ${s.failures.length}/${s.failures.length + s.values.length} runs failed — ${s.failures[0]}`);
    }
    rows.push([label, bytesLabel(totalBytes(ctx)), cell, spread(s.values), ratio(m, raw), ratio(m, relay)]);
  }
  const out = [table(['system', 'bytes', 'MB/s', 'runs', 'vs raw direct', 'vs raw relay'], rows, [false, true, true, true, true, true])];
  if (notes.length > 0) out.push(`\n${notes.map((n) => `\\* ${n}`).join('\n')}`);
  return out.join('\n');
}
