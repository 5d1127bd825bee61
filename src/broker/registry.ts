/**
 * The broker's service registry (docs/discovery.md). A client registers a service
 * instance with a request on `$PLX.REG.REGISTER`; the instance belongs to that
 * connection and vanishes when the connection closes (including a heartbeat timeout),
 * so the registry never lists a process that is gone. Every change is published on
 * `$PLX.REG.EVT.<name>` so watchers need no polling.
 */
import { ErrorCode, PlexusError } from '../errors/index.js';
import { FrameType, encodeHeaders, encodeUtf8, readUtf8, subjectProblem, type Frame } from '../wire/index.js';
import { filterMatches, type Router } from './router.js';
import type { Session } from './session.js';

/** Every registry subject starts with this; clients may only send requests to the ones below. */
export const REGISTRY_PREFIX = '$PLX.REG.';

/** The registry's control subjects. */
export const RegistrySubject = {
  /** Request: register (or update) an instance owned by this connection. */
  REGISTER: '$PLX.REG.REGISTER',
  /** Request: remove an instance this connection registered. */
  DEREGISTER: '$PLX.REG.DEREGISTER',
  /** Request: the current instances, optionally of one name. */
  LIST: '$PLX.REG.LIST',
  /** Events: `$PLX.REG.EVT.<name>`, published by the broker only. */
  EVENTS: '$PLX.REG.EVT',
} as const;

/** Registry limits. Every one is checked on REGISTER. */
export interface RegistryOptions {
  /** Instances one connection may register. @default 64 */
  readonly maxInstancesPerConnection?: number;
  /** Instances in the whole registry. @default 10000 */
  readonly maxInstances?: number;
  /** Size of an instance's metadata as JSON. @default 4096 */
  readonly maxMetadataBytes?: number;
  /** Endpoint subjects per instance. @default 64 */
  readonly maxEndpoints?: number;
}

/** One registered instance, as the registry reports it. */
export interface InstanceRecord {
  /** Unique in the registry; chosen by the client. */
  readonly id: string;
  /** Service (or intent) name: dot-separated tokens of letters, digits, `_` and `-`. */
  readonly name: string;
  readonly version: string;
  /** Subjects the instance answers on. */
  readonly endpoints: readonly string[];
  /** Free-form JSON object the instance describes itself with. */
  readonly metadata: Readonly<Record<string, unknown>>;
  /** When the instance started (ISO 8601), as it said, else when it registered. */
  readonly started: string;
  /** When the broker accepted the registration (ISO 8601). */
  readonly registeredAt: string;
  /** The owning connection and its authenticated identity, stamped by the broker. */
  readonly connId: string;
  readonly identity: string;
  /**
   * Liveness of the owning connection as the broker sees it, in LIST answers and /status
   * only (events carry the record without it).
   */
  readonly health?: InstanceHealth;
}

/**
 * `ok`: the connection was heard from within the last heartbeat interval. `late`: it has
 * been silent longer (it is dropped, and the instance with it, after 3 intervals).
 */
export interface InstanceHealth {
  readonly status: 'ok' | 'late';
  /** Milliseconds since the broker last received anything from the connection. */
  readonly idleMs: number;
}

/** A change, published on `$PLX.REG.EVT.<name>`. */
export interface RegistryEvent {
  readonly type: 'up' | 'down';
  /** Registry revision after this change; LIST answers carry the revision they saw. */
  readonly rev: number;
  readonly instance: InstanceRecord;
  /** For `down`: `deregistered`, `disconnected`, or the code the connection closed with. */
  readonly reason?: string;
}

/** What /status shows of the registry. */
export interface RegistryStatus {
  readonly rev: number;
  readonly instances: number;
  readonly services: readonly {
    readonly name: string;
    readonly version: string;
    readonly id: string;
    readonly connId: string;
    readonly identity: string;
    readonly started: string;
    readonly health: InstanceHealth;
  }[];
}

const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const NAME_PATTERN = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const MAX_NAME_LENGTH = 128;
const MAX_VERSION_LENGTH = 64;

/** Is `name` a valid service name (dot-separated tokens of letters, digits, `_`, `-`; at most 128 characters)? */
export function isServiceName(name: unknown): name is string {
  return typeof name === 'string' && name.length <= MAX_NAME_LENGTH && NAME_PATTERN.test(name);
}

/** Is `id` a valid instance id (1-64 letters, digits, `_` or `-`)? */
export function isInstanceId(id: unknown): id is string {
  return typeof id === 'string' && ID_PATTERN.test(id);
}

interface Resolved {
  readonly maxInstancesPerConnection: number;
  readonly maxInstances: number;
  readonly maxMetadataBytes: number;
  readonly maxEndpoints: number;
}

function resolve(o: RegistryOptions = {}): Resolved {
  const check = (name: string, v: number, max: number): number => {
    if (!Number.isInteger(v) || v <= 0 || v > max) throw new RangeError(`registry.${name} must be an integer in (0, ${max}], got ${v}`);
    return v;
  };
  return {
    maxInstancesPerConnection: check('maxInstancesPerConnection', o.maxInstancesPerConnection ?? 64, 100_000),
    maxInstances: check('maxInstances', o.maxInstances ?? 10_000, 10_000_000),
    maxMetadataBytes: check('maxMetadataBytes', o.maxMetadataBytes ?? 4096, 1024 * 1024),
    maxEndpoints: check('maxEndpoints', o.maxEndpoints ?? 64, 10_000),
  };
}

interface Entry {
  readonly record: InstanceRecord;
  readonly owner: Session;
}

/** Service instances by id, owned by the sessions that registered them. */
export class Registry {
  private readonly byId = new Map<string, Entry>();
  private readonly byOwner = new Map<Session, Set<string>>();
  private readonly limits: Resolved;
  private readonly headers: Uint8Array;
  /** The same headers decoded, for subscriptions with a content filter. */
  private readonly headerMap: Readonly<Record<string, string>>;
  private rev = 0;

  constructor(
    private readonly router: Router<Session>,
    serverId: string,
    options?: RegistryOptions,
    /** The broker's heartbeat interval: what `late` is measured against. */
    private readonly heartbeatMs = 5000,
  ) {
    this.limits = resolve(options);
    this.headerMap = { ':from': '$SYS', ':conn': serverId };
    this.headers = encodeHeaders(this.headerMap)!;
  }

  get size(): number {
    return this.byId.size;
  }

  /**
   * A PUB on a `$PLX.REG.` subject, already permission-checked by the session. Answered
   * on its reply subject, or refused with a coded ERR there.
   */
  onRequest(session: Session, f: Frame): void {
    const fail = (code: ErrorCode, message: string): void => session.sendError(new PlexusError(code, message), f.reply || f.subject, f.id);
    const known = f.subject === RegistrySubject.REGISTER || f.subject === RegistrySubject.DEREGISTER || f.subject === RegistrySubject.LIST;
    // Events come from the broker only: a client publishing one would forge a change.
    if (!known) return fail(ErrorCode.PERMISSION_DENIED, `${f.subject} is not a registry request subject`);
    if (f.reply === '') return fail(ErrorCode.PROTOCOL, `${f.subject} takes requests only (a reply subject is needed)`);
    let body: Record<string, unknown>;
    try {
      const text = readUtf8(f.payload, 0, f.payload.length);
      const parsed: unknown = text === undefined || text === '' ? {} : JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      body = parsed as Record<string, unknown>;
    } catch {
      return fail(ErrorCode.INVALID_ARGUMENT, `${f.subject} needs a JSON object`);
    }
    try {
      let answer: unknown;
      if (f.subject === RegistrySubject.REGISTER) answer = this.register(session, body);
      else if (f.subject === RegistrySubject.DEREGISTER) answer = this.deregister(session, body);
      else answer = this.list(body);
      this.deliver(f.reply, answer);
    } catch (err) {
      if (err instanceof PlexusError) return fail(err.code, err.message);
      throw err;
    }
  }

  /** A connection closed: its instances go down. */
  sessionClosed(session: Session, reason: string): void {
    const ids = this.byOwner.get(session);
    if (!ids) return;
    this.byOwner.delete(session);
    for (const id of ids) {
      const e = this.byId.get(id);
      if (!e) continue;
      this.byId.delete(id);
      this.publishEvent('down', e.record, reason);
    }
  }

  status(): RegistryStatus {
    const services = [...this.byId.values()].map(({ record: r, owner }) => ({
      name: r.name,
      version: r.version,
      id: r.id,
      connId: r.connId,
      identity: r.identity,
      started: r.started,
      health: this.health(owner),
    }));
    return { rev: this.rev, instances: this.byId.size, services };
  }

  private register(session: Session, body: Record<string, unknown>): { rev: number; instance: InstanceRecord } {
    const record = this.validate(session, body);
    const existing = this.byId.get(record.id);
    if (existing && existing.owner !== session) {
      throw new PlexusError(ErrorCode.INSTANCE_EXISTS, `instance id ${record.id} is registered by another connection`);
    }
    let owned = this.byOwner.get(session);
    if (!existing) {
      if ((owned?.size ?? 0) >= this.limits.maxInstancesPerConnection) {
        throw new PlexusError(ErrorCode.REGISTRY_LIMIT, `at most ${this.limits.maxInstancesPerConnection} instances per connection`);
      }
      if (this.byId.size >= this.limits.maxInstances) {
        throw new PlexusError(ErrorCode.REGISTRY_LIMIT, `the registry holds at most ${this.limits.maxInstances} instances`);
      }
    }
    if (!owned) this.byOwner.set(session, (owned = new Set()));
    owned.add(record.id);
    this.byId.set(record.id, { record, owner: session });
    // An update of an existing instance is announced as `up` again with the new record.
    this.publishEvent('up', record);
    return { rev: this.rev, instance: record };
  }

  private deregister(session: Session, body: Record<string, unknown>): { rev: number; removed: true } {
    const id = body['id'];
    const e = typeof id === 'string' ? this.byId.get(id) : undefined;
    // Only the owner may remove an instance; to anyone else it does not exist.
    if (!e || e.owner !== session) {
      throw new PlexusError(ErrorCode.INSTANCE_NOT_FOUND, `no instance ${JSON.stringify(id)} registered by this connection`);
    }
    this.byId.delete(e.record.id);
    this.byOwner.get(session)?.delete(e.record.id);
    this.publishEvent('down', e.record, 'deregistered');
    return { rev: this.rev, removed: true };
  }

  private list(body: Record<string, unknown>): { rev: number; instances: InstanceRecord[] } {
    const name = body['name'];
    if (name !== undefined && typeof name !== 'string') throw new PlexusError(ErrorCode.INVALID_ARGUMENT, 'name must be a string');
    const instances: InstanceRecord[] = [];
    for (const { record, owner } of this.byId.values()) {
      if (name === undefined || record.name === name) instances.push({ ...record, health: this.health(owner) });
    }
    return { rev: this.rev, instances };
  }

  private health(owner: Session): InstanceHealth {
    const idleMs = Math.max(0, Date.now() - Math.max(owner.lastIn, owner.transport.lastReceiveAt));
    return { status: idleMs > this.heartbeatMs ? 'late' : 'ok', idleMs };
  }

  private validate(session: Session, b: Record<string, unknown>): InstanceRecord {
    const bad = (message: string): never => {
      throw new PlexusError(ErrorCode.INVALID_ARGUMENT, message);
    };
    const { id, name, version, endpoints = [], metadata = {}, started } = b;
    if (!isInstanceId(id)) bad('id must be 1-64 letters, digits, _ or -');
    if (!isServiceName(name)) {
      bad(`name must be dot-separated tokens of letters, digits, _ or - (at most ${MAX_NAME_LENGTH} characters)`);
    }
    if (typeof version !== 'string' || version === '' || version.length > MAX_VERSION_LENGTH) bad(`version must be a string of 1-${MAX_VERSION_LENGTH} characters`);
    if (!Array.isArray(endpoints) || !endpoints.every((e) => typeof e === 'string' && subjectProblem(e, false) === undefined)) {
      bad('endpoints must be an array of subjects without wildcards');
    }
    if ((endpoints as string[]).length > this.limits.maxEndpoints) {
      throw new PlexusError(ErrorCode.REGISTRY_LIMIT, `at most ${this.limits.maxEndpoints} endpoints per instance`);
    }
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) bad('metadata must be a JSON object');
    const metaBytes = Buffer.byteLength(JSON.stringify(metadata));
    if (metaBytes > this.limits.maxMetadataBytes) {
      throw new PlexusError(ErrorCode.REGISTRY_LIMIT, `metadata of ${metaBytes} bytes exceeds ${this.limits.maxMetadataBytes}`);
    }
    const now = new Date().toISOString();
    const startedAt = typeof started === 'string' && started.length <= 40 && !Number.isNaN(Date.parse(started)) ? started : now;
    return {
      id: id as string,
      name: name as string,
      version: version as string,
      endpoints: [...(endpoints as string[])],
      metadata: metadata as Record<string, unknown>,
      started: startedAt,
      registeredAt: now,
      connId: session.connId,
      identity: session.identity,
    };
  }

  private publishEvent(type: RegistryEvent['type'], instance: InstanceRecord, reason?: string): void {
    this.rev++;
    const event: RegistryEvent = { type, rev: this.rev, instance, ...(reason !== undefined ? { reason } : {}) };
    this.deliver(`${RegistrySubject.EVENTS}.${instance.name}`, event);
  }

  /** Deliver a broker-made JSON message to whoever subscribes to `subject`. */
  private deliver(subject: string, body: unknown): void {
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
      payload: encodeUtf8(JSON.stringify(body)),
    };
    const passes = (r: { filter?: Readonly<Record<string, string>> | undefined }): boolean => r.filter === undefined || filterMatches(r.filter, this.headerMap);
    for (const r of match.plain) if (passes(r)) r.owner.deliver(r, frame, this.headers, undefined);
    for (const g of match.groups) {
      for (let tries = 0; tries < g.members.length; tries++) {
        const r = g.members[g.next++ % g.members.length]!;
        if (passes(r) && r.owner.deliver(r, frame, this.headers, undefined)) break;
      }
    }
  }
}
