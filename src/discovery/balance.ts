/**
 * Client-side choice of a service instance. Round-robin through the broker's queue
 * groups stays the default (and needs nothing from here); this covers the cases where
 * the client must pick the instance itself and address it on its instance subject:
 *
 * - `least-pending`: the instance with the fewest of *this client's* requests in flight
 *   (no shared state, no extra round trips: a slow instance holds more of our requests,
 *   so it gets fewer new ones).
 * - a version range that only some registered instances satisfy.
 */
import type { InstanceRecord } from '../broker/registry.js';
import type { Connection, Message, Payload, RequestOptions } from '../client/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { VersionRange } from './semver.js';
import { noMatch } from './services.js';
import { instanceSubject } from './subjects.js';
import { InstanceView } from './watch.js';

/** How a client spreads calls over instances. */
export type BalanceStrategy = 'round-robin' | 'least-pending';

/** Options of {@link ServiceBalancer}. */
export interface BalancerOptions {
  /** Only instances whose version is in this range (`^2`, `~2.1`, `>=2.3.0`, …). @default any */
  readonly version?: string;
  /** @default 'round-robin' */
  readonly strategy?: BalanceStrategy;
  /** Bound on the first registry listing. @default 5000 */
  readonly timeoutMs?: number;
}

/** Where to send one call, and what to do when it settles. */
export interface BalancedRoute {
  readonly subject: string;
  /** The instance addressed directly, or undefined when the broker's queue group picks. */
  readonly instance: InstanceRecord | undefined;
  /** Call once the call settled (success or not): it no longer counts as pending. */
  release(): void;
}

/**
 * Registry views shared per connection and service name: every client of `rides` on one
 * connection reads the same live list (one subscription), and they go with the connection.
 */
const views = new WeakMap<Connection, Map<string, InstanceView>>();

function viewOf(bus: Connection, name: string, timeoutMs: number): InstanceView {
  let byName = views.get(bus);
  if (!byName) views.set(bus, (byName = new Map()));
  let view = byName.get(name);
  if (!view) {
    const fresh = new InstanceView(bus, name, { keepEvents: false, timeoutMs });
    // A failed view (e.g. the first listing timed out) is dropped so the next call retries.
    fresh.ready.catch(() => {
      if (byName!.get(name) === fresh) byName!.delete(name);
    });
    byName.set(name, (view = fresh));
  }
  return view;
}

/** Picks instances of one service for one client. */
export class ServiceBalancer {
  private readonly range: VersionRange | undefined;
  private readonly strategy: BalanceStrategy;
  private readonly pending = new Map<string, number>();
  private next = 0;

  constructor(
    private readonly bus: Connection,
    readonly name: string,
    private readonly options: BalancerOptions = {},
  ) {
    this.range = options.version !== undefined ? VersionRange.parse(options.version) : undefined;
    this.strategy = options.strategy ?? 'round-robin';
    if (this.strategy !== 'round-robin' && this.strategy !== 'least-pending') {
      throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `unknown balancing strategy ${JSON.stringify(this.strategy)}`);
    }
  }

  /** This client's calls in flight, by instance id. */
  get inFlight(): ReadonlyMap<string, number> {
    return this.pending;
  }

  /**
   * False when calls need no choice from the client (round-robin over any version): they
   * go to the queue group as they are, and the caller can skip {@link route} (and its await).
   */
  needsRouting(strategy: BalanceStrategy = this.strategy): boolean {
    return strategy !== 'round-robin' || this.range !== undefined;
  }

  /**
   * Route a call to `subject` (a subject every instance of the service serves).
   * @param strategy per-call override of the client's strategy
   * @throws PLEXUS_ERR_NO_MATCHING_INSTANCE when a version range matches no instance,
   *   PLEXUS_ERR_NO_RESPONDERS when least-pending finds no instance at all.
   */
  async route(subject: string, strategy: BalanceStrategy = this.strategy): Promise<BalancedRoute> {
    if (!this.needsRouting(strategy)) return { subject, instance: undefined, release: noop };
    const view = viewOf(this.bus, this.name, this.options.timeoutMs ?? 5000);
    await view.ready;
    // Instances of the name that serve this subject (those that listed no endpoints are
    // taken at their word): other majors of a typed service listen elsewhere.
    const all = [...view.known.values()].filter((i) => i.endpoints.length === 0 || i.endpoints.includes(subject));
    const matching = this.range ? all.filter((i) => this.range!.test(i.version)) : all;
    if (matching.length === 0) {
      if (this.range) throw noMatch(this.name, this.range.source, all);
      throw new PlexusError(ErrorCode.NO_RESPONDERS, `no instance of ${this.name} is registered`);
    }
    // Every instance qualifies and no per-instance choice is wanted: the queue group
    // does round-robin in the broker (and skips instances that are going away).
    if (strategy === 'round-robin' && matching.length === all.length) return { subject, instance: undefined, release: noop };
    const chosen = strategy === 'least-pending' ? this.leastPending(matching) : matching[this.next++ % matching.length]!;
    const id = chosen.id;
    this.pending.set(id, (this.pending.get(id) ?? 0) + 1);
    let released = false;
    return {
      subject: instanceSubject(id, subject),
      instance: chosen,
      release: () => {
        if (released) return;
        released = true;
        const n = (this.pending.get(id) ?? 1) - 1;
        if (n <= 0) this.pending.delete(id);
        else this.pending.set(id, n);
      },
    };
  }

  /**
   * A request to `subject` through {@link route}: to the queue group, or to the chosen
   * instance, counted as pending until it settles.
   */
  async request(subject: string, data?: Payload, options: RequestOptions & { readonly strategy?: BalanceStrategy } = {}): Promise<Message> {
    const { strategy, ...requestOptions } = options;
    const r = await this.route(subject, strategy);
    try {
      return await this.bus.request(r.subject, data, requestOptions);
    } finally {
      r.release();
    }
  }

  private leastPending(candidates: readonly InstanceRecord[]): InstanceRecord {
    // Ties rotate (starting point moves each call) so idle instances share the load.
    const start = this.next++;
    let best = candidates[start % candidates.length]!;
    let bestCount = this.pending.get(best.id) ?? 0;
    for (let k = 1; k < candidates.length && bestCount > 0; k++) {
      const c = candidates[(start + k) % candidates.length]!;
      const n = this.pending.get(c.id) ?? 0;
      if (n < bestCount) {
        best = c;
        bestCount = n;
      }
    }
    return best;
  }
}

function noop(): void {}
