import { randomBytes } from 'node:crypto';
import { ErrorCode, PlexusError } from '../errors/index.js';
import {
  FramedTransport,
  defaultTransports,
  listen,
  type ByteChannel,
  type Listener,
} from '../transports/index.js';
import { FrameType, encodeHeaders, encodeUtf8, type Frame } from '../wire/index.js';
import { Authenticator } from './auth.js';
import { newCounters, type BrokerContext, type BrokerCounters } from './context.js';
import { startMonitor, type BrokerStatus, type Monitor } from './monitor.js';
import { resolveBrokerOptions, type BrokerOptions, type ResolvedBrokerOptions } from './options.js';
import { Registry } from './registry.js';
import { RequestTracker } from './requests.js';
import { Router } from './router.js';
import { Session } from './session.js';

const VERSION = '0.1.0';

/** Options for {@link Broker.accept}. */
export interface AcceptOptions {
  /**
   * Sign this connection in as `identity` with every permission, without credentials.
   * For services the broker's own process runs (the embedded durable service): only
   * code holding the broker object can do this, never a remote peer.
   */
  readonly trustedIdentity?: string;
}

/** A running broker. */
export interface Broker {
  /** The addresses it listens on, with real ports. */
  readonly urls: readonly string[];
  /** The monitor's base URL (`/status`, `/metrics`), if enabled. */
  readonly httpUrl: string | undefined;
  readonly serverId: string;
  /** Current status snapshot (what /status serves). */
  status(): BrokerStatus;
  /**
   * Serve one already-connected byte channel, e.g. a child process's stdio made with
   * `channelFromStreams(child.stdout, child.stdin)`.
   */
  accept(channel: ByteChannel, options?: AcceptOptions): void;
  /**
   * Graceful shutdown: stop accepting, tell clients GOODBYE, let queued output flush for
   * up to `drainMs`, then close every connection.
   */
  close(options?: { drainMs?: number }): Promise<void>;
}

class BrokerImpl implements BrokerContext, Broker {
  readonly options: ResolvedBrokerOptions;
  readonly serverId: string;
  readonly auth: Authenticator;
  readonly router = new Router<Session>();
  readonly requests: RequestTracker;
  readonly registry: Registry;
  readonly counters: BrokerCounters = newCounters();
  readonly sessions = new Set<Session>();
  shuttingDown = false;
  private openCount = 0;
  private readonly listeners: Listener[] = [];
  private monitor: Monitor | undefined;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private readonly startedAt = Date.now();
  private rateSample = { at: Date.now(), msgsIn: 0, msgsOut: 0, inPerSec: 0, outPerSec: 0 };
  private readonly advisoryHeaders: Uint8Array;

  constructor(private readonly config: BrokerOptions) {
    this.options = resolveBrokerOptions(config);
    this.serverId = config.serverId ?? randomBytes(4).toString('hex');
    this.auth = new Authenticator(config.auth);
    this.requests = new RequestTracker(this.options.maxTrackedRequestsPerConnection);
    this.registry = new Registry(this.router, this.serverId, config.registry, this.options.heartbeatMs);
    this.advisoryHeaders = encodeHeaders({ ':from': '$SYS', ':conn': this.serverId })!;
  }

  get urls(): readonly string[] {
    return this.listeners.map((l) => l.url);
  }

  get httpUrl(): string | undefined {
    return this.monitor?.url;
  }

  async start(): Promise<void> {
    if (!Array.isArray(this.config.listen)) {
      throw new PlexusError(ErrorCode.CONFIG, '`listen` must be an array of addresses (it may be empty when connections come through accept())');
    }
    try {
      for (const address of this.config.listen) {
        const l = await listen(
          address,
          {
            ...(this.config.tls ? { tls: this.config.tls } : {}),
            ...(this.config.socketMode !== undefined ? { socketMode: this.config.socketMode } : {}),
            ...(this.config.inproc ? { inproc: this.config.inproc } : {}),
          },
          (channel) => this.accept(channel),
          this.config.transports ?? defaultTransports,
        );
        this.listeners.push(l);
      }
      if (this.config.http) this.monitor = await startMonitor(this.config.http, () => this.status());
    } catch (err) {
      await this.closeListeners();
      throw err;
    }
    this.heartbeat = setInterval(() => this.tick(), this.options.heartbeatMs);
    this.heartbeat.unref?.();
  }

  accept(channel: ByteChannel, options: AcceptOptions = {}): void {
    const transport = new FramedTransport(channel, {
      maxFrameBytes: this.options.maxFrameBytes,
      highWaterBytes: this.options.maxPendingBytes,
    });
    const session = new Session(this, transport, options.trustedIdentity);
    this.counters.connectionsTotal++;
    if (this.shuttingDown) {
      session.start();
      session.fail(new PlexusError(ErrorCode.SHUTTING_DOWN, 'the broker is shutting down'));
      return;
    }
    if (this.sessions.size >= this.options.maxConnections) {
      session.start();
      session.fail(new PlexusError(ErrorCode.MAX_CONNECTIONS, `the broker allows ${this.options.maxConnections} connections`));
      return;
    }
    this.sessions.add(session);
    session.start();
  }

  sessionOpened(): void {
    this.openCount++;
  }

  sessionClosed(session: Session, wasOpen: boolean): void {
    this.sessions.delete(session);
    if (wasOpen) this.openCount--;
  }

  advisory(kind: string, data: Record<string, unknown>): void {
    const subject = `$SYS.ADVISORY.${kind}`;
    const match = this.router.match(subject);
    if (match.plain.length === 0 && match.groups.length === 0) return;
    const frame: Frame = {
      type: FrameType.PUB,
      flags: 0,
      id: 0,
      aux: 0,
      subject,
      reply: '',
      headers: undefined,
      payload: encodeUtf8(JSON.stringify({ ...data, kind, at: new Date().toISOString() })),
    };
    for (const r of match.plain) r.owner.deliver(r, frame, this.advisoryHeaders, undefined);
    for (const g of match.groups) {
      const r = g.members[g.next++ % g.members.length];
      r?.owner.deliver(r, frame, this.advisoryHeaders, undefined);
    }
  }

  /** Heartbeats: ping idle connections, drop silent ones. */
  private tick(): void {
    const now = Date.now();
    const hb = this.options.heartbeatMs;
    for (const s of this.sessions) {
      if (!s.isOpen) continue;
      const idle = now - Math.max(s.lastIn, s.transport.lastReceiveAt);
      if (s.isBlocked) {
        // We stopped reading from it (slow-consumer `block`): its silence is ours, so never
        // time it out, but keep pinging. It hears nothing else from us while held back, and
        // its own heartbeat used to drop the link (losing what it had queued) after 3 beats.
        if (idle >= hb) s.ping();
        continue;
      }
      if (idle > 3 * hb) {
        this.counters.heartbeatTimeouts++;
        s.fail(new PlexusError(ErrorCode.HEARTBEAT_TIMEOUT, `no traffic for ${idle} ms`));
      } else if (idle >= hb) s.ping();
    }
    const dt = (now - this.rateSample.at) / 1000;
    if (dt > 0) {
      this.rateSample = {
        at: now,
        msgsIn: this.counters.msgsIn,
        msgsOut: this.counters.msgsOut,
        inPerSec: (this.counters.msgsIn - this.rateSample.msgsIn) / dt,
        outPerSec: (this.counters.msgsOut - this.rateSample.msgsOut) / dt,
      };
    }
  }

  status(): BrokerStatus {
    const clients = [...this.sessions].filter((s) => s.isOpen).map((s) => ({
      connId: s.connId,
      identity: s.identity,
      name: s.name,
      transport: s.transport.info.kind,
      remote: s.transport.info.remote ?? '',
      ...(s.transport.info.peer ? { peer: s.transport.info.peer } : {}),
      subscriptions: s.subs.size,
      msgsIn: s.msgsIn,
      msgsOut: s.msgsOut,
      pendingBytes: s.transport.pendingBytes,
      dropped: s.dropped,
    }));
    return {
      serverId: this.serverId,
      version: VERSION,
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      listening: this.urls,
      connections: this.openCount,
      subscriptions: this.router.size,
      trackedRequests: this.requests.size,
      counters: { ...this.counters },
      rates: { msgsInPerSec: Math.round(this.rateSample.inPerSec), msgsOutPerSec: Math.round(this.rateSample.outPerSec) },
      clients,
      registry: this.registry.status(),
    };
  }

  async close(options: { drainMs?: number } = {}): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    clearInterval(this.heartbeat);
    this.requests.close();
    // Stop accepting now; the listeners' close completes once their sockets are gone.
    const listenersClosed = this.closeListeners();
    for (const s of this.sessions) s.goodbye('broker shutting down');
    for (const s of this.sessions) s.close();
    const deadline = Date.now() + (options.drainMs ?? 2000);
    while (this.sessions.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const s of this.sessions) s.transport.destroy();
    await listenersClosed;
    await this.monitor?.close();
  }

  private async closeListeners(): Promise<void> {
    await Promise.all(this.listeners.map((l) => l.close().catch(() => undefined)));
    this.listeners.length = 0;
  }
}

/**
 * Start a broker in this process.
 *
 * ```ts
 * const broker = await startBroker({ listen: ['unix:///tmp/plexus.sock', 'tcp://127.0.0.1:0'] });
 * ```
 */
export async function startBroker(options: BrokerOptions): Promise<Broker> {
  const broker = new BrokerImpl(options);
  await broker.start();
  return broker;
}
