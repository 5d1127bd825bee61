/** The performance targets, checked against a run's medians. */
import type { PubSubResults } from '../sections/pubsub.js';
import type { RrResults } from '../sections/reqrep.js';
import type { StreamResults } from '../sections/stream.js';
import { median, table } from './stats.js';

interface Check {
  readonly target: string;
  /** Measured ratio per Plexus transport, undefined when not measured. */
  readonly unix: number | undefined;
  readonly tcp: number | undefined;
  /** Met when ratio >= goal (or <= goal for lower-is-better). */
  readonly goal: number;
  readonly lowerIsBetter?: boolean;
}

function div(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined || b === 0 ? undefined : a / b;
}

function verdict(c: Check, v: number | undefined): string {
  if (v === undefined) return 'not measured';
  const ok = c.lowerIsBetter ? v <= c.goal : v >= c.goal;
  return `${v.toFixed(2)}× ${ok ? 'met' : 'MISSED'}`;
}

export function targetsTable(pubsub?: PubSubResults, rr?: RrResults, stream?: StreamResults): string {
  const checks: Check[] = [];
  if (pubsub) {
    for (const size of [16, 256]) {
      const m = (id: 'plexus-unix' | 'plexus-tcp' | 'nats'): number | undefined => median(pubsub.get(id)?.get(size)?.values ?? []);
      checks.push({ target: `pub/sub ${size} B msgs/s ≥ 1.5× nats`, unix: div(m('plexus-unix'), m('nats')), tcp: div(m('plexus-tcp'), m('nats')), goal: 1.5 });
    }
  }
  if (rr) {
    const m = (id: 'plexus-unix' | 'plexus-tcp' | 'nats' | 'grpc', k: 'p50' | 'rps'): number | undefined => median(rr.get(id)?.[k].values ?? []);
    checks.push({ target: 'req/reply p50 ≤ 0.5× nats', unix: div(m('plexus-unix', 'p50'), m('nats', 'p50')), tcp: div(m('plexus-tcp', 'p50'), m('nats', 'p50')), goal: 0.5, lowerIsBetter: true });
    checks.push({ target: 'req/reply @64 req/s ≥ 4× nats', unix: div(m('plexus-unix', 'rps'), m('nats', 'rps')), tcp: div(m('plexus-tcp', 'rps'), m('nats', 'rps')), goal: 4 });
    checks.push({ target: 'req/reply @64 req/s ≥ 15× grpc-js', unix: div(m('plexus-unix', 'rps'), m('grpc', 'rps')), tcp: div(m('plexus-tcp', 'rps'), m('grpc', 'rps')), goal: 15 });
  }
  if (stream) {
    const raw = median(stream.get('raw')?.values ?? []);
    checks.push({
      target: 'stream MB/s ≥ 0.5× raw unix socket',
      unix: div(median(stream.get('plexus-unix')?.values ?? []), raw),
      tcp: div(median(stream.get('plexus-tcp')?.values ?? []), raw),
      goal: 0.5,
    });
  }
  return table(
    ['target', 'plexus (unix)', 'plexus (tcp)'],
    checks.map((c) => [c.target, verdict(c, c.unix), verdict(c, c.tcp)]),
  );
}
