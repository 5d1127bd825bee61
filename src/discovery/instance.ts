/**
 * `registerInstance`: put a service instance in the broker's registry, keep it there
 * across reconnects, and answer the `$SRV` PING/INFO/STATS verbs for it.
 */
import { randomUUID } from 'node:crypto';
import { RegistrySubject, isInstanceId, isServiceName, type InstanceRecord } from '../broker/registry.js';
import type { Connection, RequestHandler, Subscription } from '../client/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { SrvVerb, instanceSubject } from './subjects.js';

/** Counters of one method (or endpoint) of an instance. */
export interface EndpointStats {
  /** Requests handled. */
  requests: number;
  /** Requests that ended in an error. */
  errors: number;
  /** Sum of handling times in ms. */
  totalMs: number;
}

/** What an instance says about itself when it registers. */
export interface InstanceInfo {
  /** Service name: dot-separated tokens of letters, digits, `_` and `-`. */
  readonly name: string;
  /** Semantic version (`2.1.0`): clients select instances by range. */
  readonly version: string;
  /** Unique id (1-64 of `A-Za-z0-9_-`). @default a random UUID */
  readonly id?: string;
  /** Subjects it answers on. */
  readonly endpoints?: readonly string[];
  /** Free-form JSON object (at most the broker's `registry.maxMetadataBytes`, 4096 by default). */
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** When it started. @default now */
  readonly started?: Date | number;
  /**
   * Where STATS answers come from when the instance keeps its own counters (typed
   * services do). @default the counters fed through {@link InstanceHandle.record}
   */
  readonly stats?: () => Readonly<Record<string, EndpointStats>>;
}

/** What a STATS answer carries per endpoint. */
export interface EndpointStatsReport extends EndpointStats {
  /** totalMs / requests (0 before the first request). */
  readonly averageMs: number;
}

/** A STATS answer. */
export interface InstanceStats {
  readonly name: string;
  readonly id: string;
  readonly version: string;
  readonly started: string;
  readonly endpoints: Readonly<Record<string, EndpointStatsReport>>;
}

/** Options of {@link registerInstance}. */
export interface RegisterOptions {
  /** Bound on the REGISTER round trip. @default 5000 */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Told when re-registering after a reconnect fails (the instance is then not listed). @default ignore */
  readonly onError?: (err: PlexusError) => void;
}

/** A registered instance. */
export interface InstanceHandle {
  readonly id: string;
  readonly name: string;
  readonly version: string;
  /** The broker's record of it (connection, identity, times), updated by each registration. */
  readonly registration: InstanceRecord;
  /** Count one handled request of `endpoint`, its duration, and whether it failed. */
  record(endpoint: string, ms: number, failed?: boolean): void;
  /** The current counters, as STATS reports them. */
  stats(): InstanceStats;
  /**
   * Answer requests on `subject` as this instance: in the queue group `queue` (default
   * `_serve`: round-robin among instances) and on this instance's own subject (for
   * least-pending and version-range clients), counting requests, errors and latency
   * under `endpoint` (default the subject). Declare the subject in `endpoints` too.
   */
  serve(subject: string, handler: RequestHandler, options?: { queue?: string; endpoint?: string }): { close(): void };
  /** Change the endpoints or metadata; registers again (watchers see an `up` with the new record). */
  update(change: { endpoints?: readonly string[]; metadata?: Readonly<Record<string, unknown>> }): Promise<void>;
  /** Leave the registry (watchers see `down`) and stop answering `$SRV` verbs. */
  close(): Promise<void>;
}

/**
 * Register a service instance with the broker the connection is on. Resolves once the
 * broker lists it. The registration lives as long as the connection: it is removed when
 * the connection closes or misses its heartbeats, and made again after a reconnect.
 *
 * @throws PLEXUS_ERR_INVALID_ARGUMENT (bad name, id, version, endpoints),
 *   PLEXUS_ERR_REGISTRY_LIMIT, PLEXUS_ERR_INSTANCE_EXISTS, PLEXUS_ERR_TIMEOUT.
 */
export async function registerInstance(bus: Connection, info: InstanceInfo, options: RegisterOptions = {}): Promise<InstanceHandle> {
  if (!isServiceName(info.name)) {
    throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `service name ${JSON.stringify(info.name)}: use dot-separated tokens of letters, digits, _ or - (at most 128 characters)`);
  }
  if (info.id !== undefined && !isInstanceId(info.id)) {
    throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `instance id ${JSON.stringify(info.id)}: use 1-64 letters, digits, _ or -`);
  }
  const handle = new Instance(bus, info, options);
  try {
    await handle.register(options.signal);
  } catch (err) {
    handle.stop();
    throw err;
  }
  return handle;
}

class Instance implements InstanceHandle {
  readonly id: string;
  readonly name: string;
  readonly version: string;
  private readonly started: string;
  private endpoints: readonly string[];
  private metadata: Readonly<Record<string, unknown>>;
  private current: InstanceRecord | undefined;
  private readonly counters = new Map<string, EndpointStats>();
  private readonly subs: Subscription[] = [];
  private readonly stopReconnect: () => void;
  private closed = false;

  constructor(
    private readonly bus: Connection,
    private readonly info: InstanceInfo,
    private readonly options: RegisterOptions,
  ) {
    this.id = info.id ?? randomUUID();
    this.name = info.name;
    this.version = info.version;
    this.started = new Date(info.started ?? Date.now()).toISOString();
    this.endpoints = [...(info.endpoints ?? [])];
    this.metadata = { ...(info.metadata ?? {}) };
    // The verbs are subscribed before the REGISTER goes out on the same connection, so
    // an instance is never listed before it answers PING.
    const answer = (msg: { subject: string; respond(data: string): boolean }): void => {
      const verb = msg.subject.split('.')[1];
      if (verb === SrvVerb.PING) msg.respond(JSON.stringify({ name: this.name, id: this.id, version: this.version }));
      else if (verb === SrvVerb.INFO) msg.respond(JSON.stringify(this.describe()));
      else if (verb === SrvVerb.STATS) msg.respond(JSON.stringify(this.stats()));
      // Other verbs (and typed-service method subjects that happen to match) are not ours.
    };
    for (const subject of ['$SRV.*', `$SRV.*.${this.name}`, `$SRV.*.${this.name}.${this.id}`]) {
      this.subs.push(bus.subscribe(subject, { callback: answer }));
    }
    // The broker forgets the instance when the link drops; tell it again once back.
    this.stopReconnect = bus.onReconnect(() => {
      this.reRegister().catch((err: unknown) => {
        if (!this.closed) this.options.onError?.(err instanceof PlexusError ? err : new PlexusError(ErrorCode.INTERNAL, String(err)));
      });
    });
  }

  /**
   * Register again after a reconnect. When this client noticed a dead link before the
   * broker did, the broker still holds the old connection (until it misses 3
   * heartbeats) and with it the instance: INSTANCE_EXISTS. Keep trying, with backoff,
   * until the broker has dropped it, within 4 heartbeat intervals and 5 s more.
   */
  private async reRegister(): Promise<void> {
    const deadline = Date.now() + 4 * (this.bus.server?.heartbeatMs ?? 5000) + 5000;
    for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
      if (this.closed) return;
      try {
        await this.register();
        return;
      } catch (err) {
        if (!(err instanceof PlexusError && err.code === ErrorCode.INSTANCE_EXISTS) || Date.now() + delay > deadline) throw err;
      }
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  get registration(): InstanceRecord {
    return this.current!;
  }

  async register(signal?: AbortSignal): Promise<void> {
    const body = {
      id: this.id,
      name: this.name,
      version: this.version,
      endpoints: this.endpoints,
      metadata: this.metadata,
      started: this.started,
    };
    const reply = await this.bus.request(RegistrySubject.REGISTER, JSON.stringify(body), {
      timeout: this.options.timeoutMs ?? 5000,
      ...(signal ? { signal } : {}),
    });
    this.current = reply.json<{ instance: InstanceRecord }>().instance;
  }

  record(endpoint: string, ms: number, failed = false): void {
    let c = this.counters.get(endpoint);
    if (!c) this.counters.set(endpoint, (c = { requests: 0, errors: 0, totalMs: 0 }));
    c.requests++;
    c.totalMs += ms;
    if (failed) c.errors++;
  }

  stats(): InstanceStats {
    const source = this.info.stats?.() ?? Object.fromEntries(this.counters);
    const endpoints: Record<string, EndpointStatsReport> = {};
    for (const [k, s] of Object.entries(source)) {
      endpoints[k] = { requests: s.requests, errors: s.errors, totalMs: s.totalMs, averageMs: s.requests > 0 ? s.totalMs / s.requests : 0 };
    }
    return { name: this.name, id: this.id, version: this.version, started: this.started, endpoints };
  }

  serve(subject: string, handler: RequestHandler, options: { queue?: string; endpoint?: string } = {}): { close(): void } {
    const endpoint = options.endpoint ?? subject;
    const timed: RequestHandler = async (msg, ctx) => {
      const started = performance.now();
      try {
        const out = await handler(msg, ctx);
        this.record(endpoint, performance.now() - started);
        return out;
      } catch (err) {
        this.record(endpoint, performance.now() - started, true);
        throw err;
      }
    };
    const subs = [
      this.bus.serve(subject, timed, { queue: options.queue ?? '_serve' }),
      this.bus.serve(instanceSubject(this.id, subject), timed, { queue: '' }),
    ];
    this.subs.push(...subs);
    return { close: () => subs.forEach((s) => s.unsubscribe()) };
  }

  async update(change: { endpoints?: readonly string[]; metadata?: Readonly<Record<string, unknown>> }): Promise<void> {
    if (this.closed) throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `instance ${this.id} is closed`);
    if (change.endpoints) this.endpoints = [...change.endpoints];
    if (change.metadata) this.metadata = { ...change.metadata };
    await this.register();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.stop();
    if (this.bus.status !== 'open') return; // the broker drops it with the connection
    try {
      await this.bus.request(RegistrySubject.DEREGISTER, JSON.stringify({ id: this.id }), { timeout: this.options.timeoutMs ?? 5000 });
    } catch (err) {
      // Already gone (e.g. dropped with a connection that has since come back): fine.
      if (!(err instanceof PlexusError && err.code === ErrorCode.INSTANCE_NOT_FOUND)) throw err;
    }
  }

  /** Stop answering and re-registering. */
  stop(): void {
    this.closed = true;
    this.stopReconnect();
    for (const s of this.subs) s.unsubscribe();
  }

  private describe(): Omit<InstanceRecord, 'registeredAt' | 'connId' | 'identity'> & Partial<InstanceRecord> {
    return { ...this.current, id: this.id, name: this.name, version: this.version, endpoints: this.endpoints, metadata: this.metadata, started: this.started };
  }
}
