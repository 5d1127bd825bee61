/**
 * `services(bus)`: what is registered, what changes, and what each instance says about
 * itself (the `$SRV` verbs).
 */
import type { InstanceRecord } from '../broker/registry.js';
import type { Connection } from '../client/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { gather } from './gather.js';
import type { InstanceStats } from './instance.js';
import { VersionRange } from './semver.js';
import { SrvVerb, srvSubject } from './subjects.js';
import { InstanceView, listInstances, type InstanceEvent, type WatchOptions } from './watch.js';

/** Options of the calls that ask every instance (`info`, `stats`, `ping`). */
export interface AskOptions {
  /** How long to wait for answers; instances that have not answered by then are left out. @default 2000 */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** A PING answer. */
export interface PingReply {
  readonly name: string;
  readonly id: string;
  readonly version: string;
}

/** An INFO answer: the instance's own description. */
export type InfoReply = Pick<InstanceRecord, 'id' | 'name' | 'version' | 'endpoints' | 'metadata' | 'started'> & Partial<InstanceRecord>;

/** The discovery API on one connection. */
export interface ServiceDirectory {
  /**
   * Registered instances, of `name` or all, from the broker's registry. `name@range`
   * (`rides@^2`) keeps only versions in the range.
   */
  list(name?: string, options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<InstanceRecord[]>;
  /** The current instances as `up` events, then every change (no polling); `break` stops it. */
  watch(name?: string, options?: WatchOptions): AsyncIterable<InstanceEvent> & { close(): void };
  /** INFO from every instance (of `name`) that answers in time. */
  info(name?: string, options?: AskOptions): Promise<InfoReply[]>;
  /** STATS from every instance (of `name`) that answers in time. */
  stats(name?: string, options?: AskOptions): Promise<InstanceStats[]>;
  /** PING every instance (of `name`). */
  ping(name?: string, options?: AskOptions): Promise<PingReply[]>;
  /**
   * Instances of `name` whose version is in `range`.
   * @throws PLEXUS_ERR_NO_MATCHING_INSTANCE when there are none.
   */
  resolve(name: string, range: string, options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<InstanceRecord[]>;
}

/** Discovery on `bus`: `await services(bus).list('rides')`. */
export function services(bus: Connection): ServiceDirectory {
  const ask = async <T>(verb: SrvVerb, name: string | undefined, options: AskOptions = {}): Promise<T[]> => {
    // Knowing how many are registered lets the gather end as soon as all have answered.
    const { instances } = await listInstances(bus, name, options);
    if (instances.length === 0) return [];
    let answers;
    try {
      answers = await gather(bus, srvSubject(verb, name), undefined, {
        timeoutMs: options.timeoutMs ?? 2000,
        expect: instances.length,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (err) {
      // Registered a moment ago, gone now.
      if (err instanceof PlexusError && err.code === ErrorCode.NO_RESPONDERS) return [];
      throw err;
    }
    return answers.filter((a) => a.error === undefined).map((a) => a.msg.json<T>());
  };
  return {
    list: async (ref, options) => {
      const { name, range } = parseServiceRef(ref);
      const { instances } = await listInstances(bus, name, options);
      return range ? instances.filter((i) => range.test(i.version)) : instances;
    },
    watch: (name, options) => new InstanceView(bus, name, options),
    info: (name, options) => ask<InfoReply>(SrvVerb.INFO, name, options),
    stats: (name, options) => ask<InstanceStats>(SrvVerb.STATS, name, options),
    ping: (name, options) => ask<PingReply>(SrvVerb.PING, name, options),
    resolve: async (name, range, options) => {
      const r = VersionRange.parse(range);
      const { instances } = await listInstances(bus, name, options);
      const matching = instances.filter((i) => r.test(i.version));
      if (matching.length === 0) throw noMatch(name, range, instances);
      return matching;
    },
  };
}

/**
 * Split `rides@^2` into the name and a compiled range (`rides` alone: no range).
 * @throws PLEXUS_ERR_INVALID_ARGUMENT for a range it cannot read.
 */
export function parseServiceRef(ref: string | undefined): { name: string | undefined; range: VersionRange | undefined } {
  if (ref === undefined) return { name: undefined, range: undefined };
  const at = ref.indexOf('@');
  if (at < 0) return { name: ref, range: undefined };
  return { name: ref.slice(0, at), range: VersionRange.parse(ref.slice(at + 1)) };
}

/** The error for a version range nothing registered satisfies. */
export function noMatch(name: string, range: string, instances: readonly InstanceRecord[]): PlexusError {
  const versions = [...new Set(instances.map((i) => i.version))];
  return new PlexusError(
    ErrorCode.NO_MATCHING_INSTANCE,
    versions.length === 0 ? `no instance of ${name} is registered` : `no instance of ${name} has a version in ${range} (registered: ${versions.join(', ')})`,
    { details: { name, range, versions } },
  );
}
