/**
 * Plexus KV buckets on JetStream KV (docs/backends/nats.md): a bucket is the JetStream
 * KV bucket of the same name, a key is a KV key, the revision is the stream sequence
 * (bucket-wide, increasing), compare-and-set is JetStream's expected last subject
 * sequence, history is the bucket's per-key history, watch is a KV watch that resumes
 * by start sequence. Not given here (refused with PLEXUS_ERR_NOT_SUPPORTED, never
 * ignored): a TTL per key (the server has only a bucket-wide max age) and fenced writes.
 */
import type { KV, KvWatchInclude, KvEntry as NatsKvEntry, KvOptions as NatsKvOptions, NatsConnection, PubAck } from 'nats';
import type { Payload } from '../../client/message.js';
import { toBytes } from '../../client/payload.js';
import { ErrorCode, PlexusError } from '../../errors/index.js';
import { DEFAULT_MAX_VALUE_BYTES, checkFilter, checkKey, type KvRecordOp } from '../../durable/kv-config.js';
import type { KvBucket, KvChange, KvDeleteOptions, KvOptions, KvWatchOptions, KvWriteOptions } from '../../patterns/kv.js';
import type { NatsModule } from './bus.js';
import { fromJetStreamError } from './jetstream-errors.js';

/** Characters a JetStream KV key may hold (Plexus keys also allow `:`, `@`, `+`). */
const NATS_KEY_RE = /^[-/_=.a-zA-Z0-9]+$/;

/** The KV header values JetStream KV uses for tombstones. */
const KV_OPERATION = 'KV-Operation';

const decoder = new TextDecoder();

function opOf(e: NatsKvEntry): KvRecordOp {
  return e.operation === 'PUT' ? 'put' : e.operation === 'DEL' ? 'del' : 'purge';
}

function toChange(e: NatsKvEntry): KvChange {
  const value = e.operation === 'PUT' ? e.value : new Uint8Array(0);
  const at = e.created.getTime();
  // JetStream keeps only the time of each revision, so createdAt is this revision's time.
  return {
    key: e.key,
    op: opOf(e),
    value,
    revision: e.revision,
    createdAt: at,
    updatedAt: at,
    string: () => decoder.decode(value),
    json: <T>() => JSON.parse(decoder.decode(value)) as T,
  };
}

function natsKey(key: string): string {
  checkKey(key);
  if (!NATS_KEY_RE.test(key)) {
    throw new PlexusError(ErrorCode.INVALID_ARGUMENT, 'a key on nats may hold only letters, digits and - / _ = . (JetStream KV key rules)', { details: { key } });
  }
  return key;
}

function unsupported(what: string): PlexusError {
  return new PlexusError(ErrorCode.NOT_SUPPORTED, `${what} is not supported by nats`, { details: { backend: 'nats' } });
}

/** The JetStream KV bucket `name` on `nc` as a Plexus {@link KvBucket}. */
export function natsKv(nc: NatsConnection, mod: NatsModule, name: string, options: KvOptions): KvBucket {
  const timeout = options.timeoutMs ?? 5000;
  const bucketTtl = options.ttlMs ?? 0;
  if (options.tombstoneTtlMs !== undefined) throw unsupported('tombstoneTtlMs (JetStream keeps delete markers until the key history rolls them out)');
  const js = nc.jetstream({ timeout });
  const limits: Partial<NatsKvOptions> = {
    history: options.history ?? 1,
    maxValueSize: options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES,
    ttl: bucketTtl,
    bindOnly: options.create === false,
  };
  /** Binding alone does not look: with create false, ask for the bucket's stream first. */
  const open = async (): Promise<KV> => {
    if (options.create === false) await (await nc.jetstreamManager({ timeout })).streams.info(`KV_${name}`);
    return js.views.kv(name, limits);
  };
  let ready: Promise<KV> | undefined;
  const bucket = (): Promise<KV> => {
    ready ??= open().catch((err: unknown) => {
      ready = undefined; // try again on the next call
      throw fromJetStreamError(err, `open KV bucket ${name}`);
    });
    return ready;
  };
  const checkWrite = (o: KvWriteOptions | KvDeleteOptions): void => {
    if (o.fence !== undefined) throw unsupported('a fenced KV write (JetStream cannot check a lock lease and write a key atomically)');
    const ttl = (o as KvWriteOptions).ttlMs;
    if (ttl !== undefined && ttl !== bucketTtl) throw unsupported('a TTL per key (this nats-server has only the bucket-wide ttlMs)');
  };
  const run = async <T>(what: string, f: (b: KV) => Promise<T>, mode?: 'create' | 'update'): Promise<T> => {
    const b = await bucket();
    try {
      return await f(b);
    } catch (err) {
      throw fromJetStreamError(err, what, mode);
    }
  };
  /** A tombstone (`DEL` or `PURGE`) published directly, so its revision is known. */
  const tombstone = async (key: string, op: 'DEL' | 'PURGE', revision: number | undefined): Promise<number> => {
    const h = mod.headers();
    h.set(KV_OPERATION, op);
    if (op === 'PURGE') h.set('Nats-Rollup', 'sub');
    const ack: PubAck = await js.publish(`$KV.${name}.${key}`, undefined, { headers: h, ...(revision !== undefined ? { expect: { lastSubjectSequence: revision } } : {}) });
    return ack.seq;
  };

  async function* watch(filter: string, o: KvWatchOptions): AsyncGenerator<KvChange, void, undefined> {
    if (o.signal?.aborted) return;
    let snapshotUpTo = 0;
    let include: 'history' | 'updates' | '';
    if (o.afterRevision !== undefined) include = 'history';
    else if (o.includeCurrent === false) include = 'updates';
    else {
      include = '';
      // The initial values include tombstones of deleted keys: they are not current values.
      snapshotUpTo = (await run('KV status', (k) => k.status())).streamInfo.state.last_seq;
    }
    const it = await run('KV watch', (k) =>
      k.watch({ key: filter, include: include as KvWatchInclude, ...(o.afterRevision !== undefined ? { resumeFromRevision: o.afterRevision + 1 } : {}) }),
    );
    const stop = (): void => it.stop();
    o.signal?.addEventListener('abort', stop, { once: true });
    try {
      for await (const e of it) {
        if (e.revision <= snapshotUpTo && e.operation !== 'PUT') continue;
        yield toChange(e);
      }
    } finally {
      o.signal?.removeEventListener('abort', stop);
      it.stop();
    }
  }

  return {
    name,
    async get(key, o = {}) {
      const k = natsKey(key);
      const e = await run('KV get', (b) => b.get(k, o.revision !== undefined ? { revision: o.revision } : undefined));
      return e !== null && e.operation === 'PUT' ? toChange(e) : undefined;
    },
    async put(key, value, o = {}) {
      const k = natsKey(key);
      checkWrite(o);
      return run('KV put', (b) => b.put(k, toBytes(value as Payload)));
    },
    async create(key, value, o = {}) {
      const k = natsKey(key);
      checkWrite(o);
      return run('KV create', (b) => b.create(k, toBytes(value)), 'create');
    },
    async update(key, value, revision, o = {}) {
      if (!Number.isSafeInteger(revision) || revision < 0) throw new PlexusError(ErrorCode.INVALID_ARGUMENT, 'revision must be a non-negative integer');
      const k = natsKey(key);
      checkWrite(o);
      return run('KV update', (b) => b.update(k, toBytes(value), revision), 'update');
    },
    async delete(key, o = {}) {
      const k = natsKey(key);
      checkWrite(o);
      // Whether the key was live is read first: a concurrent write in between is not seen.
      const current = await run('KV get', (b) => b.get(k));
      if (o.revision === undefined && (current === null || current.operation !== 'PUT')) return { revision: current?.revision ?? 0, deleted: false };
      const revision = await run('KV delete', () => tombstone(k, 'DEL', o.revision), 'update');
      return { revision, deleted: current !== null && current.operation === 'PUT' };
    },
    async purge(key, o = {}) {
      const k = natsKey(key);
      checkWrite(o);
      const current = await run('KV get', (b) => b.get(k));
      const revision = await run('KV purge', () => tombstone(k, 'PURGE', undefined));
      return { revision, purged: current !== null };
    },
    async history(key) {
      const k = natsKey(key);
      const it = await run('KV history', (b) => b.history({ key: k }));
      const out: KvChange[] = [];
      for await (const e of it) out.push(toChange(e));
      return out;
    },
    async keys(filter) {
      const f = checkFilter(filter);
      const it = await run('KV keys', (b) => b.keys(f));
      const out: string[] = [];
      for await (const k of it) out.push(k);
      return out.sort();
    },
    watch(keyOrPattern, o = {}) {
      return watch(checkFilter(keyOrPattern), o);
    },
    async info() {
      const s = await run('KV status', (b) => b.status());
      const st = s.streamInfo.state;
      const live = await run('KV keys', (b) => b.keys());
      let keys = 0;
      for await (const _ of live) keys++;
      return {
        config: { name, fsync: 'always', history: s.history, maxValueBytes: s.maxValueSize, ttlMs: s.ttl, tombstoneTtlMs: 0 },
        state: { keys, revision: st.last_seq, records: st.messages, bytes: st.bytes },
      };
    },
    async destroy() {
      await run('KV destroy', (b) => b.destroy());
      ready = undefined;
    },
  };
}
