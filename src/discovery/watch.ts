/**
 * A live view of registered instances: the current state first (as `up` events), then
 * every change, with no polling. It survives reconnects: after one it lists again and
 * reports the difference (instances that went away while it was disconnected as `down`
 * with reason `resync`).
 */
import { RegistrySubject, type InstanceRecord, type RegistryEvent } from '../broker/registry.js';
import type { Connection, Subscription } from '../client/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';

/** One change in the registry, as a watcher reports it. */
export interface InstanceEvent {
  readonly type: 'up' | 'down';
  readonly instance: InstanceRecord;
  /** For `down`: `deregistered`, `disconnected`, `resync`, or the code the connection closed with. */
  readonly reason?: string;
  /** True for the events that describe the state when the watch started (or resynced). */
  readonly initial?: boolean;
}

/** Options of `services(bus).watch()`. */
export interface WatchOptions {
  /** Stop watching (the iteration ends). */
  readonly signal?: AbortSignal;
  /** Bound on each LIST round trip. @default 5000 */
  readonly timeoutMs?: number;
  /** Events held for a consumer that does not keep up; past it the iteration fails with PLEXUS_ERR_SUBSCRIPTION_OVERFLOW. @default 10000 */
  readonly maxQueued?: number;
}

/** The LIST answer. */
export interface RegistryList {
  readonly rev: number;
  readonly instances: InstanceRecord[];
}

/** Ask the broker for the instances of `name` (all when undefined). */
export async function listInstances(bus: Connection, name: string | undefined, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<RegistryList> {
  const reply = await bus.request(RegistrySubject.LIST, JSON.stringify(name === undefined ? {} : { name }), {
    timeout: options.timeoutMs ?? 5000,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return reply.json<RegistryList>();
}

/**
 * Instances of one name (or all) kept current from registry events. The base of
 * `watch()` and of the balancers.
 */
export class InstanceView implements AsyncIterable<InstanceEvent> {
  /** Instances known now, by id. */
  readonly known = new Map<string, InstanceRecord>();
  private readonly sub: Subscription;
  private readonly queue: InstanceEvent[] = [];
  private readonly buffered: RegistryEvent[] = [];
  private syncing = true;
  private closedWith: unknown;
  private ended = false;
  private wake: (() => void) | undefined;
  private readonly stopReconnect: () => void;
  private readonly onAbort = (): void => this.close();
  /** Settles when the first listing is in. */
  readonly ready: Promise<void>;

  constructor(
    private readonly bus: Connection,
    private readonly name: string | undefined,
    private readonly options: WatchOptions & { readonly keepEvents?: boolean } = {},
  ) {
    const subject = name === undefined ? `${RegistrySubject.EVENTS}.>` : `${RegistrySubject.EVENTS}.${name}`;
    // Subscribed before the LIST goes out on the same connection: no change falls between.
    this.sub = bus.subscribe(subject, { callback: (msg) => this.onEvent(msg.json<RegistryEvent>()) });
    this.stopReconnect = bus.onReconnect(() => void this.sync().catch((err: unknown) => this.fail(err)));
    options.signal?.addEventListener('abort', this.onAbort, { once: true });
    this.ready = this.sync();
    this.ready.catch((err: unknown) => this.fail(err));
    if (options.signal?.aborted) this.close();
  }

  [Symbol.asyncIterator](): AsyncIterator<InstanceEvent> {
    return {
      next: async () => {
        for (;;) {
          const ev = this.queue.shift();
          if (ev) return { value: ev, done: false };
          if (this.ended) {
            if (this.closedWith !== undefined) throw this.closedWith;
            return { value: undefined, done: true };
          }
          await new Promise<void>((r) => (this.wake = r));
        }
      },
      return: async () => {
        this.close();
        return { value: undefined, done: true };
      },
    };
  }

  /** Stop watching. */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.sub.unsubscribe();
    this.stopReconnect();
    this.options.signal?.removeEventListener('abort', this.onAbort);
    this.notify();
  }

  private fail(err: unknown): void {
    if (this.ended) return;
    this.closedWith = err;
    this.close();
  }

  private async sync(): Promise<void> {
    this.syncing = true;
    const { rev, instances } = await listInstances(this.bus, this.name, this.options);
    const seen = new Set<string>();
    for (const inst of instances) {
      seen.add(inst.id);
      const old = this.known.get(inst.id);
      if (old && old.registeredAt === inst.registeredAt && old.connId === inst.connId) continue;
      this.known.set(inst.id, inst);
      this.emit({ type: 'up', instance: inst, initial: true });
    }
    for (const [id, inst] of this.known) {
      if (seen.has(id)) continue;
      this.known.delete(id);
      this.emit({ type: 'down', instance: inst, reason: 'resync', initial: true });
    }
    this.syncing = false;
    // Changes that arrived while the list was on its way, newer than it.
    for (const ev of this.buffered.splice(0)) if (ev.rev > rev) this.apply(ev);
  }

  private onEvent(ev: RegistryEvent): void {
    if (this.ended) return;
    if (this.syncing) {
      if (this.buffered.length >= (this.options.maxQueued ?? 10_000)) return this.overflow();
      this.buffered.push(ev);
    } else this.apply(ev);
  }

  private apply(ev: RegistryEvent): void {
    if (ev.type === 'up') this.known.set(ev.instance.id, ev.instance);
    else if (!this.known.delete(ev.instance.id)) return;
    this.emit({ type: ev.type, instance: ev.instance, ...(ev.reason !== undefined ? { reason: ev.reason } : {}) });
  }

  private emit(ev: InstanceEvent): void {
    if (this.options.keepEvents === false) return;
    if (this.queue.length >= (this.options.maxQueued ?? 10_000)) return this.overflow();
    this.queue.push(ev);
    this.notify();
  }

  private overflow(): void {
    this.fail(new PlexusError(ErrorCode.SUBSCRIPTION_OVERFLOW, 'the registry watcher fell too far behind'));
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}
