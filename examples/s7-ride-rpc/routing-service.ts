/**
 * A shortest-path service instance: Dijkstra over a small weighted map. Routes to the
 * airport need a "traffic lookup" that takes 2 s — long enough for a caller's deadline
 * to run out; the lookup honours `ctx.signal`, so it stops the moment the deadline that
 * travelled from the original caller passes.
 */
import { ServiceError, serveService, type Connection, type ServiceServer } from '../../src/index.js';
import { routing, type Place } from './contracts.js';

const ROADS: readonly [Place, Place, number][] = [
  ['home', 'park', 2],
  ['home', 'station', 5],
  ['park', 'station', 2],
  ['park', 'market', 4],
  ['station', 'harbor', 3],
  ['market', 'harbor', 1],
  ['harbor', 'airport', 9],
  ['station', 'airport', 14],
];

/** Dijkstra; undefined when `to` cannot be reached. */
export function shortestPath(from: Place, to: Place): { km: number; path: Place[] } | undefined {
  const dist = new Map<Place, number>([[from, 0]]);
  const prev = new Map<Place, Place>();
  const todo = new Set<Place>([from]);
  const done = new Set<Place>();
  while (todo.size > 0) {
    let u: Place | undefined;
    for (const p of todo) if (u === undefined || dist.get(p)! < dist.get(u)!) u = p;
    todo.delete(u!);
    done.add(u!);
    if (u === to) break;
    for (const [a, b, km] of ROADS) {
      const v = a === u ? b : b === u ? a : undefined;
      if (v === undefined || done.has(v)) continue;
      const d = dist.get(u!)! + km;
      if (d < (dist.get(v) ?? Infinity)) {
        dist.set(v, d);
        prev.set(v, u!);
        todo.add(v);
      }
    }
  }
  if (!dist.has(to)) return undefined;
  const path: Place[] = [to];
  while (path[0] !== from) path.unshift(prev.get(path[0]!)!);
  return { km: dist.get(to)!, path };
}

function trafficLookup(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true });
  });
}

/** Serve routing as instance `instance` on `bus`; `say` prints a line. */
export function startRouting(bus: Connection, instance: string, say: (line: string) => void): ServiceServer {
  return serveService(
    bus,
    routing,
    {
      async shortestPath({ from, to }, ctx) {
        if (to === 'airport') {
          const left = ctx.deadline === undefined ? 'no deadline' : `${Math.max(0, ctx.deadline - Date.now())} ms left`;
          say(`[${instance}] ${from} -> ${to}: traffic lookup (${left})`);
          const t0 = Date.now();
          try {
            await trafficLookup(2000, ctx.signal);
          } catch (err) {
            say(`[${instance}] traffic lookup stopped after ${Math.round((Date.now() - t0) / 100) * 100} ms: ${(err as { code?: string }).code}`);
            throw err;
          }
        }
        const route = shortestPath(from, to);
        if (!route) throw new ServiceError('NO_ROUTE', `no road from ${from} to ${to}`, { from, to });
        say(`[${instance}] ${from} -> ${to}: ${route.km} km for ${ctx.caller}`);
        return { ...route, instance };
      },
    },
    { log: (level, message, fields) => say(`[${instance}] ${level}: ${message} ${JSON.stringify(fields)}`) },
  );
}
