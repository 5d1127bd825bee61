/**
 * The KV side of the durable service: owns the buckets under `<dir>/kv/` and answers
 * `$PLX.KV.<OP>.<bucket>` requests (JSON in, JSON out, coded errors). The bucket is in
 * the subject so broker ACLs can grant per bucket. See docs/kv.md.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Connection, Message, RequestContext, Subscription } from '../client/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { readJson } from './files.js';
import { KvBucket, type FenceCheck } from './kv-bucket.js';
import {
  KV_PREFIX,
  KvOp,
  MAX_CHANGES_WAIT_MS,
  MAX_PAGE_ENTRIES,
  MAX_TTL_MS,
  bucketSatisfies,
  checkBucketName,
  checkFilter,
  checkKey,
  parseBucketConfig,
  parseFence,
} from './kv-config.js';
import type { KvWrite } from './kv-writes.js';
import { Mutex } from './stream.js';

function bad(message: string, details?: unknown): PlexusError {
  return new PlexusError(ErrorCode.INVALID_ARGUMENT, message, details === undefined ? undefined : { details });
}

function body(msg: Message): Record<string, unknown> {
  if (msg.data.length === 0) return {};
  let v: unknown;
  try {
    v = msg.json();
  } catch {
    throw bad('request payload must be JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('request payload must be a JSON object');
  return v as Record<string, unknown>;
}

function optInt(o: Record<string, unknown>, key: string, min: number, max: number): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw bad(`${key} must be an integer from ${min} to ${max}`, { [key]: v });
  return v;
}

/** Buckets and their request handlers. */
export class KvService {
  private readonly buckets = new Map<string, KvBucket>();
  private readonly admin = new Mutex();
  private sub: Subscription | undefined;
  private closing = false;

  private constructor(
    private readonly bus: Connection,
    private readonly dir: string,
    private readonly fenceCheck: FenceCheck,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Open every bucket under `<dir>/kv` and start answering `$PLX.KV.>`. */
  static async start(bus: Connection, dir: string, fenceCheck: FenceCheck, onError: (err: unknown) => void): Promise<KvService> {
    const svc = new KvService(bus, join(dir, 'kv'), fenceCheck, onError);
    try {
      await svc.load();
    } catch (err) {
      await svc.close();
      throw err;
    }
    svc.sub = bus.serve(`${KV_PREFIX}.>`, (msg, ctx) => svc.handle(msg, ctx), { queue: '_kv' });
    return svc;
  }

  private async load(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const name of names.sort()) {
      const raw = await readJson(join(this.dir, name, 'bucket.json'));
      if (raw === undefined) continue; // a create that did not finish
      const config = parseBucketConfig(raw);
      this.buckets.set(config.name, await KvBucket.open(config, join(this.dir, name), this.fenceCheck, this.onError, false));
    }
  }

  private bucket(name: string): KvBucket {
    const b = this.buckets.get(checkBucketName(name));
    if (!b) throw new PlexusError(ErrorCode.DURABLE_NOT_FOUND, `KV bucket ${name} not found`, { details: { bucket: name } });
    return b;
  }

  private async handle(msg: Message, ctx: RequestContext): Promise<string> {
    if (this.closing) throw new PlexusError(ErrorCode.SHUTTING_DOWN, 'the KV service is closing');
    // $PLX.KV.<OP>[.<bucket>]
    const t = msg.subject.split('.');
    const op = t[2];
    const name = t.slice(3).join('.');
    const b = body(msg);
    return JSON.stringify(await this.dispatch(op, name, b, ctx, msg.timeoutMs));
  }

  private async dispatch(op: string | undefined, name: string, b: Record<string, unknown>, ctx: RequestContext, timeoutMs: number): Promise<unknown> {
    switch (op) {
      case KvOp.LIST:
        return { buckets: [...this.buckets.keys()].sort() };
      case KvOp.CREATE_BUCKET:
        return this.admin.run(() => this.createBucket({ ...b, name }));
      case KvOp.DELETE_BUCKET:
        return this.admin.run(() => this.deleteBucket(name));
      case KvOp.INFO:
        return this.bucket(name).info();
      case KvOp.GET: {
        const rev = optInt(b, 'revision', 1, Number.MAX_SAFE_INTEGER);
        return { entry: (await this.bucket(name).get(checkKey(b.key), rev)) ?? null };
      }
      case KvOp.PUT:
      case KvOp.DEL:
      case KvOp.PURGE: {
        const bucket = this.bucket(name);
        const w = this.parseWrite(op, b);
        this.checkValueSize(bucket, w);
        return bucket.write(w);
      }
      case KvOp.HISTORY:
        return { entries: await this.bucket(name).history(checkKey(b.key)) };
      case KvOp.KEYS:
        return this.bucket(name).listKeys(checkFilter(b.filter));
      case KvOp.SNAPSHOT: {
        const after = typeof b.afterKey === 'string' ? b.afterKey : '';
        const max = optInt(b, 'max', 1, MAX_PAGE_ENTRIES) ?? MAX_PAGE_ENTRIES;
        return this.bucket(name).snapshot(checkFilter(b.filter), after, max, this.pageBytes());
      }
      case KvOp.CHANGES: {
        const after = optInt(b, 'after', 0, Number.MAX_SAFE_INTEGER) ?? 0;
        const max = optInt(b, 'max', 1, MAX_PAGE_ENTRIES) ?? MAX_PAGE_ENTRIES;
        let wait = optInt(b, 'waitMs', 0, MAX_CHANGES_WAIT_MS) ?? 0;
        // Never hold a request past its caller's deadline: the reply would go nowhere.
        if (timeoutMs > 0) wait = Math.max(0, Math.min(wait, timeoutMs - 250));
        return this.bucket(name).changes(checkFilter(b.filter), after, max, this.pageBytes(), wait, ctx.signal);
      }
      default:
        throw bad(`unknown KV operation ${String(op)}`);
    }
  }

  private parseWrite(op: string, b: Record<string, unknown>): KvWrite {
    const key = checkKey(b.key);
    const revision = optInt(b, 'revision', 0, Number.MAX_SAFE_INTEGER);
    const fence = parseFence(b.fence);
    if (op === KvOp.PURGE) return { key, value: undefined, mode: 'purge', ...(fence ? { fence } : {}) };
    if (op === KvOp.DEL) return { key, value: undefined, mode: 'del', ...(revision !== undefined ? { revision } : {}), ...(fence ? { fence } : {}) };
    const mode = b.mode ?? 'put';
    if (mode !== 'put' && mode !== 'create' && mode !== 'update') throw bad("mode must be 'put', 'create' or 'update'");
    if (mode === 'update' && revision === undefined) throw bad('update needs the revision it replaces');
    if (typeof b.value !== 'string') throw bad('value must be a base64 string');
    const value = new Uint8Array(Buffer.from(b.value, 'base64'));
    const ttlMs = optInt(b, 'ttlMs', 0, MAX_TTL_MS);
    return { key, value, mode, ...(revision !== undefined ? { revision } : {}), ...(ttlMs !== undefined ? { ttlMs } : {}), ...(fence ? { fence } : {}) };
  }

  private checkValueSize(bucket: KvBucket, w: KvWrite): void {
    const n = w.value?.length ?? 0;
    if (n > bucket.config.maxValueBytes) {
      throw new PlexusError(ErrorCode.PAYLOAD_TOO_LARGE, `value of ${n} bytes is over the bucket's maxValueBytes (${bucket.config.maxValueBytes})`, {
        details: { size: n, max: bucket.config.maxValueBytes },
      });
    }
  }

  /** Bytes of values one page may carry (base64 in JSON under the broker's payload limit). */
  private pageBytes(): number {
    return Math.max(1, Math.floor(((this.bus.maxPayload - 8192) * 3) / 4) - 8192);
  }

  private async createBucket(requested: Record<string, unknown>): Promise<unknown> {
    const config = parseBucketConfig(requested);
    const existing = this.buckets.get(config.name);
    if (existing) {
      if (bucketSatisfies(existing.config, requested)) return existing.info();
      throw new PlexusError(ErrorCode.DURABLE_EXISTS, `KV bucket ${config.name} exists with a different configuration`, {
        details: { bucket: config.name, config: existing.config },
      });
    }
    const b = await KvBucket.open(config, join(this.dir, config.name), this.fenceCheck, this.onError, true);
    this.buckets.set(config.name, b);
    return b.info();
  }

  private async deleteBucket(name: string): Promise<unknown> {
    const b = this.bucket(name);
    this.buckets.delete(b.config.name);
    await b.close();
    await rm(b.dir, { recursive: true, force: true });
    return { deleted: true };
  }

  /** Stop answering and close every bucket. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.sub?.unsubscribe();
    for (const b of this.buckets.values()) {
      try {
        await b.close();
      } catch (err) {
        this.onError(err);
      }
    }
    this.buckets.clear();
  }
}
