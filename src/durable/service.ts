/**
 * The durable service: durable streams and consumers as a client of the broker. It
 * connects like any client, captures the subjects of its streams into logs
 * (src/store), and answers the `$PLX.DS.*` control API over request/reply. See
 * docs/durable.md.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, type Connection, type ConnectOptions, type Message, type Subscription } from '../client/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { patternsIntersect } from '../wire/index.js';
import { claim, giveBack, type Claimed } from './claim.js';
import {
  DS,
  MAX_BATCH,
  checkConsumerName,
  mailboxOwner,
  checkStreamName,
  parseConsumerConfig,
  parseStreamConfig,
  sameConfig,
  type ConsumerConfig,
  type StreamConfig,
} from './config.js';
import { fetchReply, parseFetchRequest, readReply, replyBudget, storeBudget } from './fetch.js';
import { readJson, writeFileAtomic } from './files.js';
import { PushSessions, parseGrant } from './push.js';
import { scheduleHeaders } from './schedule.js';
import { readNewestSlot } from './state-slots.js';
import { applyAckVerb, applyAcks, hasDeadLetters, moveDeadLetters, parseAckBatch } from './settle.js';
import { startKvCoord, type KvCoord } from './kv-coord.js';
import { Consumer, DurableStream, Mutex } from './stream.js';

/** Options for {@link startDurableService}. */
export interface DurableServiceOptions {
  /** Directory holding every stream (created if missing). */
  readonly dir: string;
  /** Broker to connect to (ignored when `connection` is given). */
  readonly url?: string | readonly string[];
  /** Options for the connection the service makes (e.g. `inproc`, `token`). */
  readonly connect?: ConnectOptions;
  /** Use this connection instead of making one (the service does not close it). */
  readonly connection?: Connection;
  /** How often expired deliveries past maxDeliver are moved to the DLQ. @default 200 */
  readonly sweepMs?: number;
  /**
   * Errors nobody else hears about: a plain (unacknowledged) publish or ack that failed,
   * a dead-letter move that will be retried. @default ignored
   */
  readonly onError?: (err: unknown) => void;
  /**
   * Who may read a mailbox (`mbox-<owner>`: consumers, fetch, push, acks, reads):
   * `'owner'` only the identity `<owner>` as the broker stamped it; `'open'` anyone.
   * @default 'open' when the service's own connection is `anonymous` (a broker without
   * auth), else 'owner'
   */
  readonly mailboxAccess?: 'owner' | 'open';
}

function notFound(what: string, details: Record<string, string>): PlexusError {
  return new PlexusError(ErrorCode.DURABLE_NOT_FOUND, `${what} not found`, { details });
}

function parseJson(msg: Message): unknown {
  if (msg.data.length === 0) return {};
  try {
    return msg.json();
  } catch {
    throw new PlexusError(ErrorCode.INVALID_ARGUMENT, 'request payload must be JSON');
  }
}

/** A running durable service. */
export class DurableService {
  private readonly streams = new Map<string, DurableStream>();
  private readonly captures = new Map<string, Subscription[]>();
  private readonly control: Subscription[] = [];
  private readonly admin = new Mutex();
  private sweepTimer: ReturnType<typeof setInterval> | undefined;
  private closing = false;
  private sweeping = false;
  /** KV buckets and locks/semaphores/barriers/condition variables (docs/kv.md, docs/coordination.md). */
  private kvCoord: KvCoord | undefined;
  private readonly push: PushSessions;
  private readonly mailboxAccess: 'owner' | 'open';

  private constructor(
    readonly bus: Connection,
    private readonly ownsBus: boolean,
    readonly dir: string,
    private readonly onError: (err: unknown) => void,
    mailboxAccess: 'owner' | 'open' | undefined,
  ) {
    this.push = new PushSessions(bus, onError, (st) => !this.closing && this.streams.get(st.config.name) === st);
    this.mailboxAccess = mailboxAccess ?? (bus.server?.identity === 'anonymous' ? 'open' : 'owner');
  }

  /** @internal use {@link startDurableService} */
  static async start(o: DurableServiceOptions): Promise<DurableService> {
    const bus = o.connection ?? (await connect(o.url === undefined ? undefined : o.url, o.connect ?? {}));
    const svc = new DurableService(bus, !o.connection, o.dir, o.onError ?? (() => undefined), o.mailboxAccess);
    try {
      await svc.load();
      svc.listenControl();
      svc.kvCoord = await startKvCoord(bus, o.dir, svc.onError);
      await bus.flush();
    } catch (err) {
      await svc.close();
      throw err;
    }
    const sweepMs = o.sweepMs ?? 200;
    svc.sweepTimer = setInterval(() => void svc.sweep(), sweepMs);
    svc.sweepTimer.unref();
    return svc;
  }

  /** Push sessions running (each ends on a stop, or three heartbeats after its client went silent). */
  get pushSessions(): number {
    return this.push.size;
  }

  /** Names of the streams. */
  get streamNames(): string[] {
    return [...this.streams.keys()].sort();
  }

  // ---- loading ---------------------------------------------------------------------

  private streamDir(name: string): string {
    return join(this.dir, 'streams', name);
  }

  private async load(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(join(this.dir, 'streams'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const name of names.sort()) {
      const raw = await readJson(join(this.streamDir(name), 'stream.json'));
      if (raw === undefined) continue; // a create that did not finish
      const config = parseStreamConfig(raw, true);
      const st = await DurableStream.open(config, this.streamDir(name));
      this.streams.set(config.name, st);
      await this.loadConsumers(st);
      // Acked messages whose (non-durable) trim a crash undid: gone before anyone looks.
      await st.applyWorkqueue().catch((err: unknown) => this.onError(err));
      this.capture(st);
    }
  }

  private async loadConsumers(st: DurableStream): Promise<void> {
    const cdir = join(st.dir, 'consumers');
    for (const f of (await readdir(cdir)).sort()) {
      if (!f.endsWith('.json')) continue;
      const file = join(cdir, f);
      let raw = (await readJson(file)) as { config?: unknown; cursor?: unknown; pending?: unknown } | undefined;
      if (!raw) continue;
      // Saves after the creation are in the file's slots: the newest intact one wins.
      const slot = await readNewestSlot(file);
      if (slot) raw = JSON.parse(slot.json) as typeof raw;
      const config = parseConsumerConfig(raw.config);
      const c = new Consumer(config, file, typeof raw.cursor === 'number' ? raw.cursor : 0, slot?.generation ?? 0);
      // After a restart every unacknowledged delivery may be redelivered at once.
      const now = Date.now();
      if (Array.isArray(raw.pending)) {
        for (const e of raw.pending as unknown[]) {
          if (!Array.isArray(e) || typeof e[0] !== 'number' || typeof e[1] !== 'number') continue;
          // A delayed entry (count 0) keeps its due time.
          if (e[1] === 0 && typeof e[2] === 'number') c.schedule(e[0], e[2]);
          else c.pending.set(e[0], { count: e[1], deadline: now });
        }
      }
      st.consumers.set(config.name, c);
    }
  }

  // ---- subscriptions ---------------------------------------------------------------

  /**
   * Handle `subject` both as requests (answered, errors as coded ERROR replies) and as
   * plain publishes (handled, nobody to answer).
   */
  private listen(subject: string, handler: (msg: Message) => Promise<string | void>): Subscription[] {
    const plain = this.bus.subscribe(subject, {
      callback: (msg) => {
        if (msg.reply) return;
        handler(msg).catch((err: unknown) => this.onError(err));
      },
    });
    const served = this.bus.serve(subject, handler, { queue: '_ds' });
    return [plain, served];
  }

  private capture(st: DurableStream): void {
    const subs: Subscription[] = [];
    for (const pattern of st.config.subjects) {
      subs.push(
        ...this.listen(pattern, async (msg) => {
          // Store only what a (binary) fetch reply can carry alone.
          const headers = scheduleHeaders(msg.headers, Date.now());
          let size = msg.data.length + 2 * (msg.subject.length + msg.from.length);
          for (const k of Object.keys(headers)) size += 2 * (k.length + headers[k]!.length + 4);
          const max = storeBudget(this.bus.maxPayload);
          if (size > max) {
            throw new PlexusError(ErrorCode.PAYLOAD_TOO_LARGE, `a stream stores messages up to about ${max} bytes`, { details: { size, max } });
          }
          const payload = Uint8Array.prototype.slice.call(msg.data);
          const r = await st.store(msg.subject, headers, msg.from, payload);
          return JSON.stringify(r.duplicate ? { stream: st.config.name, seq: r.seq, duplicate: true } : { stream: st.config.name, seq: r.seq });
        }),
      );
    }
    this.captures.set(st.config.name, subs);
  }

  private listenControl(): void {
    const json = (fn: (body: unknown, msg: Message) => Promise<unknown>) => async (msg: Message) => JSON.stringify(await fn(parseJson(msg), msg));
    this.control.push(
      this.bus.serve(DS.STREAM_CREATE, json((b) => this.admin.run(() => this.createStream(parseStreamConfig(b))))),
      this.bus.serve(DS.STREAM_INFO, json(async (b) => this.stream((b as { name?: unknown }).name).info())),
      this.bus.serve(
        DS.STREAM_DELETE,
        json((b, msg) =>
          this.admin.run(() => {
            this.checkReader((b as { name?: unknown }).name, msg);
            return this.deleteStream((b as { name?: unknown }).name);
          }),
        ),
      ),
      this.bus.serve(DS.STREAM_LIST, json(async () => ({ streams: this.streamNames }))),
      this.bus.serve(
        DS.CONSUMER_CREATE,
        json((b, msg) =>
          this.admin.run(() => {
            const config = parseConsumerConfig(b);
            this.checkReader(config.stream, msg);
            return this.createConsumer(config);
          }),
        ),
      ),
      this.bus.serve(
        DS.CONSUMER_INFO,
        json(async (b) => {
          const o = b as { stream?: unknown; name?: unknown };
          return this.consumer(o.stream, o.name).c.info();
        }),
      ),
      this.bus.serve(`${DS.CONSUMER_NEXT}.>`, (msg) => this.next(msg, parseJson(msg))),
      ...this.listen(`${DS.CONSUMER_PUSH}.>`, json(async (b, msg) => this.pushGrant(msg, b))),
      this.bus.serve(DS.STREAM_READ, (msg) => this.read(msg, parseJson(msg))),
      ...this.listen(`${DS.ACK}.>`, (msg) => this.ack(msg)),
      ...this.listen(`${DS.ACK_BATCH}.>`, (msg) => this.ackBatch(msg)),
    );
  }

  // ---- streams ---------------------------------------------------------------------

  private stream(name: unknown): DurableStream {
    const st = this.streams.get(checkStreamName(name));
    if (!st) throw notFound(`stream ${String(name)}`, { stream: String(name) });
    return st;
  }

  private consumer(stream: unknown, name: unknown): { st: DurableStream; c: Consumer } {
    const st = this.stream(stream);
    const c = st.consumers.get(checkConsumerName(name));
    if (!c) throw notFound(`consumer ${String(stream)}/${String(name)}`, { stream: String(stream), consumer: String(name) });
    return { st, c };
  }

  private async createStream(config: StreamConfig): Promise<unknown> {
    const existing = this.streams.get(config.name);
    if (existing) {
      if (sameConfig(existing.config, config)) return existing.info();
      throw new PlexusError(ErrorCode.DURABLE_EXISTS, `stream ${config.name} exists with a different configuration`, {
        details: { stream: config.name, config: existing.config },
      });
    }
    for (const other of this.streams.values()) {
      for (const a of other.config.subjects) {
        for (const b of config.subjects) {
          if (patternsIntersect(a, b)) {
            throw new PlexusError(ErrorCode.DURABLE_EXISTS, `subjects ${b} overlap stream ${other.config.name} (${a})`, {
              details: { stream: other.config.name, subject: a },
            });
          }
        }
      }
    }
    return (await this.openNewStream(config)).info();
  }

  private async openNewStream(config: StreamConfig): Promise<DurableStream> {
    const dir = this.streamDir(config.name);
    await mkdir(dir, { recursive: true });
    await writeFileAtomic(join(dir, 'stream.json'), JSON.stringify(config));
    const st = await DurableStream.open(config, dir);
    this.streams.set(config.name, st);
    this.capture(st);
    await this.bus.flush();
    return st;
  }

  private async deleteStream(name: unknown): Promise<unknown> {
    const st = this.stream(name);
    this.streams.delete(st.config.name);
    for (const s of this.captures.get(st.config.name) ?? []) s.unsubscribe();
    this.captures.delete(st.config.name);
    await st.close();
    await rm(st.dir, { recursive: true, force: true });
    return { deleted: true };
  }

  /** The DLQ stream for `stream`, created on first use. */
  private async dlq(stream: string): Promise<DurableStream> {
    const name = `DLQ.${stream}`;
    return this.admin.run(async () => {
      const have = this.streams.get(name);
      if (have) return have;
      return this.openNewStream(parseStreamConfig({ name, subjects: [], retention: 'limits', dedupWindowMs: 0 }, true));
    });
  }

  // ---- consumers -------------------------------------------------------------------

  private async createConsumer(config: ConsumerConfig): Promise<unknown> {
    const st = this.stream(config.stream);
    const existing = st.consumers.get(config.name);
    if (existing) {
      if (sameConfig(existing.config, config)) return existing.info();
      throw new PlexusError(ErrorCode.DURABLE_EXISTS, `consumer ${config.stream}/${config.name} exists with a different configuration`, {
        details: { stream: config.stream, consumer: config.name, config: existing.config },
      });
    }
    const dp = config.deliverPolicy;
    const cursor = dp === 'all' ? st.log.firstSeq - 1 : dp === 'new' ? st.log.lastSeq : dp.startSeq - 1;
    const c = new Consumer(config, join(st.dir, 'consumers', `${config.name}.json`), Math.max(0, cursor));
    await c.create();
    st.consumers.set(config.name, c);
    return c.info();
  }

  /**
   * Mailboxes (`mbox-<owner>` and their DLQs) are read only by their owner when
   * `mailboxAccess` is 'owner': the identity is the broker-stamped `:from`.
   */
  private checkReader(stream: unknown, msg: Message): void {
    if (this.mailboxAccess === 'open' || typeof stream !== 'string') return;
    const owner = mailboxOwner(stream);
    if (owner === undefined || msg.from === owner) return;
    throw new PlexusError(ErrorCode.PERMISSION_DENIED, `only ${owner} may read mailbox ${owner}`, {
      details: { stream, identity: msg.from },
    });
  }

  private async next(msg: Message, body: unknown): Promise<string | Uint8Array> {
    const tokens = msg.subject.split('.');
    // $PLX.DS.CONSUMER.NEXT.<stream…>.<consumer>
    const streamName = tokens.slice(4, -1).join('.');
    const { st, c } = this.consumer(streamName, tokens[tokens.length - 1]);
    this.checkReader(streamName, msg);
    const req = parseFetchRequest(body);
    const max = this.bus.maxPayload;
    const budget = Math.min(replyBudget(max, req.binary), req.maxBytes);
    const reply = (out: Claimed[]): string | Uint8Array => {
      try {
        return fetchReply(st, c, out, req.binary, max);
      } catch (err) {
        giveBack(st, c, out);
        throw err;
      }
    };
    // Never wait past the caller's own deadline: what we claim then would go nowhere.
    const until = Math.min(Date.now() + req.expiresMs, msg.timeoutMs > 0 ? Date.now() + msg.timeoutMs - 50 : Infinity);
    for (;;) {
      const { out, more } = await c.lock.run(() => claim(st, c, req.batch, budget));
      if (out.length > 0 || this.closing || !this.streams.has(st.config.name)) return reply(out);
      if (more) continue;
      const now = Date.now();
      if (now >= until) return reply([]);
      await st.waitForWork(Math.min(c.nextDue(), until) - now);
    }
  }

  /** Start, refill, keep alive or stop a push session. */
  private pushGrant(msg: Message, body: unknown): unknown {
    const tokens = msg.subject.split('.');
    // $PLX.DS.CONSUMER.PUSH.<stream…>.<consumer>
    const streamName = tokens.slice(4, -1).join('.');
    const { st, c } = this.consumer(streamName, tokens[tokens.length - 1]);
    this.checkReader(streamName, msg);
    return this.push.grant(st, c, parseGrant(body));
  }

  /** `$PLX.DS.STREAM.READ { name, startSeq, batch, binary? }`: stored messages without a consumer. */
  private async read(msg: Message, body: unknown): Promise<string | Uint8Array> {
    const o = (body ?? {}) as { name?: unknown; startSeq?: unknown; batch?: unknown; binary?: unknown };
    this.checkReader(o.name, msg); // before the lookup: a stranger learns nothing, not even absence
    const st = this.stream(o.name);
    const start = o.startSeq ?? st.log.firstSeq;
    const batch = o.batch ?? 16;
    if (typeof start !== 'number' || !Number.isSafeInteger(start) || start < 0) throw new PlexusError(ErrorCode.INVALID_ARGUMENT, 'startSeq must be a non-negative integer');
    if (typeof batch !== 'number' || !Number.isSafeInteger(batch) || batch < 1 || batch > MAX_BATCH) {
      throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `batch must be an integer from 1 to ${MAX_BATCH}`);
    }
    const binary = o.binary === true;
    const recs = await st.log.readRange(Math.max(start, st.log.firstSeq), { maxRecords: batch, maxBytes: replyBudget(this.bus.maxPayload, binary) });
    return readReply(recs, binary);
  }

  private async ack(msg: Message): Promise<string> {
    // $PLX.DS.ACK.<consumer>.<seq>.<count>.<stream…>
    const t = msg.subject.split('.');
    const seq = Number(t[4]);
    if (t.length < 7 || !Number.isSafeInteger(seq)) throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `bad ack subject ${msg.subject}`);
    const { st, c } = this.consumer(t.slice(6).join('.'), t[3]);
    this.checkReader(st.config.name, msg);
    await applyAckVerb(st, c, seq, msg.data);
    return '';
  }

  private async ackBatch(msg: Message): Promise<string> {
    // $PLX.DS.ACKS.<consumer>.<stream…>
    const t = msg.subject.split('.');
    if (t.length < 5) throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `bad ack subject ${msg.subject}`);
    const { st, c } = this.consumer(t.slice(4).join('.'), t[3]);
    this.checkReader(st.config.name, msg);
    await applyAcks(st, c, parseAckBatch(msg.data));
    return '';
  }

  /** Move deliveries that used up maxDeliver and whose ack wait passed to `DLQ.<stream>`. */
  private async sweep(): Promise<void> {
    if (this.closing || this.sweeping) return;
    this.sweeping = true;
    try {
      await this.sweepOnce();
    } finally {
      this.sweeping = false;
    }
  }

  private async sweepOnce(): Promise<void> {
    const now = Date.now();
    for (const st of [...this.streams.values()]) {
      for (const c of st.consumers.values()) {
        if (!hasDeadLetters(c, now)) continue;
        try {
          await moveDeadLetters(st, c, await this.dlq(st.config.name), () => this.closing);
        } catch (err) {
          this.onError(err); // retried on the next sweep
        }
      }
    }
  }

  // ---- closing ---------------------------------------------------------------------

  /** Stop serving, save consumer state, close every log (and the connection if it made it). */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.push.closeAll();
    for (const s of this.control) s.unsubscribe();
    for (const subs of this.captures.values()) for (const s of subs) s.unsubscribe();
    this.captures.clear();
    for (const st of this.streams.values()) {
      try {
        await st.close();
      } catch {
        // Closing the rest matters more.
      }
    }
    this.streams.clear();
    await this.kvCoord?.close().catch((err: unknown) => this.onError(err));
    if (this.ownsBus) await this.bus.close();
  }
}

/** Start a durable service over a broker connection, owning the logs under `options.dir`. */
export function startDurableService(options: DurableServiceOptions): Promise<DurableService> {
  return DurableService.start(options);
}
