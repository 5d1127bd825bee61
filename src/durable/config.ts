/**
 * Stream and consumer configurations of the durable service: their JSON shapes, defaults
 * and validation (bad input is `PLEXUS_ERR_INVALID_ARGUMENT`), and the `$PLX.DS.*`
 * subjects of the control API.
 */
import { ErrorCode, PlexusError } from '../errors/index.js';
import { patternsIntersect, subjectProblem } from '../wire/index.js';

/** Prefix of every control subject. */
export const DS_PREFIX = '$PLX.DS';
export const DS = {
  STREAM_CREATE: `${DS_PREFIX}.STREAM.CREATE`,
  STREAM_INFO: `${DS_PREFIX}.STREAM.INFO`,
  STREAM_DELETE: `${DS_PREFIX}.STREAM.DELETE`,
  STREAM_LIST: `${DS_PREFIX}.STREAM.LIST`,
  CONSUMER_CREATE: `${DS_PREFIX}.CONSUMER.CREATE`,
  CONSUMER_INFO: `${DS_PREFIX}.CONSUMER.INFO`,
  CONSUMER_NEXT: `${DS_PREFIX}.CONSUMER.NEXT`,
  /** `.<stream>.<consumer>`: start, refill, keep alive or stop a push session. */
  CONSUMER_PUSH: `${DS_PREFIX}.CONSUMER.PUSH`,
  /** Read stored messages without a consumer (inspection, e.g. of a DLQ). */
  STREAM_READ: `${DS_PREFIX}.STREAM.READ`,
  ACK: `${DS_PREFIX}.ACK`,
  /** `.<consumer>.<stream…>` with payload `+ACK <seq> <seq>…`: many acks, one save (docs/durable.md). */
  ACK_BATCH: `${DS_PREFIX}.ACKS`,
} as const;

/** Most sequences one batched ack (`$PLX.DS.ACKS`) carries. */
export const MAX_ACK_BATCH = 1024;

/** Publisher header: deliver no earlier than this many ms after the message is stored. */
export const DELAY_HEADER = 'ds-delay-ms';
/** Publisher header: deliver no earlier than this epoch time (ms). */
export const DELIVER_AT_HEADER = 'ds-deliver-at';
/** Publisher header: never deliver this message once this many ms have passed since it was stored. */
export const TTL_HEADER = 'ds-ttl-ms';
/** Header of a pushed message: its delivery metadata as JSON ({@link PushMeta}). */
export const META_HEADER = 'ds-meta';
/** Header of a push-session status message (no payload): `heartbeat`. */
export const STATUS_HEADER = 'ds-status';
/** User headers starting with this are reserved for the service (dropped on capture, except the scheduling ones). */
export const SERVICE_HEADER_PREFIX = 'ds-';
/** Longest delay (`ds-delay-ms`, or `ds-deliver-at` from now): 30 days. */
export const MAX_DELAY_MS = 30 * 86_400_000;
/** Longest per-message TTL: 365 days. */
export const MAX_TTL_MS = 365 * 86_400_000;
/** Most delayed messages one consumer holds back at a time (further new messages wait to be read). */
export const MAX_SCHEDULED = 100_000;
/** Stream name prefix of mailboxes: `mbox-<owner>`, capturing exactly `mailbox.<owner>`. */
export const MAILBOX_STREAM_PREFIX = 'mbox-';
/** Subject prefix of mailboxes. */
export const MAILBOX_SUBJECT_PREFIX = 'mailbox.';

/** Delivery metadata of a pushed message (the {@link META_HEADER} header). */
export interface PushMeta {
  readonly seq: number;
  readonly subject: string;
  readonly from: string;
  readonly timestamp: number;
  readonly deliveryCount: number;
  readonly ackSubject: string;
}

/** The mailbox owner a stream (or its DLQ) belongs to, or undefined for other streams. */
export function mailboxOwner(stream: string): string | undefined {
  const base = stream.startsWith('DLQ.') ? stream.slice(4) : stream;
  return base.startsWith(MAILBOX_STREAM_PREFIX) ? base.slice(MAILBOX_STREAM_PREFIX.length) : undefined;
}

/** Most messages one fetch returns. */
export const MAX_BATCH = 256;
/** Longest a fetch may wait for messages. */
export const MAX_EXPIRES_MS = 60_000;
/** Header a publisher sets for deduplication. */
export const MSG_ID_HEADER = 'msg-id';

/** How durable a stream's acknowledged appends are (see docs/store.md). */
export type DurableFsync = 'always' | { readonly intervalMs: number };

/** `$PLX.DS.STREAM.CREATE` payload. */
export interface StreamConfig {
  readonly name: string;
  /** Subject patterns captured into the stream (may be empty: filled by the service only, e.g. a DLQ). */
  readonly subjects: readonly string[];
  readonly fsync: DurableFsync;
  readonly retention: 'limits' | 'workqueue';
  readonly maxMessages?: number;
  readonly maxBytes?: number;
  readonly maxAgeMs?: number;
  /** Publisher dedup window for the `msg-id` header; 0 disables. @default 120000 */
  readonly dedupWindowMs: number;
}

export type DeliverPolicy = 'all' | 'new' | { readonly startSeq: number };

/** `$PLX.DS.CONSUMER.CREATE` payload. */
export interface ConsumerConfig {
  readonly stream: string;
  readonly name: string;
  /** @default 30000 */
  readonly ackWaitMs: number;
  /** @default 5 */
  readonly maxDeliver: number;
  readonly filterSubject?: string;
  /** @default 'all' */
  readonly deliverPolicy: DeliverPolicy;
  /** Most messages delivered and not yet acknowledged. @default 10000 */
  readonly maxAckPending: number;
}

/** One message as a fetch returns it. */
export interface WireDurableMessage {
  readonly seq: number;
  readonly subject: string;
  readonly headers: Record<string, string>;
  /** Payload, base64. */
  readonly data: string;
  /** Sender identity the broker stamped when the message was published. */
  readonly from: string;
  readonly timestamp: number;
  readonly deliveryCount: number;
  readonly ackSubject: string;
}

/** The reply to an acknowledged publish. */
export interface PublishAck {
  readonly stream: string;
  readonly seq: number;
  readonly duplicate?: boolean;
}

export interface StreamInfo {
  readonly config: StreamConfig;
  readonly state: {
    readonly messages: number;
    readonly bytes: number;
    readonly firstSeq: number;
    readonly lastSeq: number;
    readonly consumers: number;
  };
}

export interface ConsumerInfo {
  readonly config: ConsumerConfig;
  readonly state: {
    /** Highest stream sequence handed out (or skipped by the filter). */
    readonly delivered: number;
    /** Every sequence at or below this is acknowledged (or terminated). */
    readonly ackFloor: number;
    /** Delivered and not yet acknowledged. */
    readonly pending: number;
    /** Delayed messages read past the cursor and not yet due. */
    readonly scheduled: number;
  };
}

function bad(message: string, details?: unknown): PlexusError {
  return new PlexusError(ErrorCode.INVALID_ARGUMENT, message, details === undefined ? undefined : { details });
}

const NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;
/** Stream names: letters, digits, `_`, `-`; the service's own `DLQ.<name>` adds one dot. */
const STREAM_RE = /^(DLQ\.)?[A-Za-z0-9_-]{1,64}$/;

export function checkStreamName(v: unknown): string {
  if (typeof v !== 'string' || !STREAM_RE.test(v)) throw bad('stream name must be 1-64 of [A-Za-z0-9_-]', { name: v });
  return v;
}

export function checkConsumerName(v: unknown): string {
  if (typeof v !== 'string' || !NAME_RE.test(v)) throw bad('consumer name must be 1-64 of [A-Za-z0-9_-]', { name: v });
  return v;
}

function optInt(o: Record<string, unknown>, key: string, min: number, max: number): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw bad(`${key} must be an integer from ${min} to ${max}`, { [key]: v });
  return v;
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(`${what} must be a JSON object`);
  return v as Record<string, unknown>;
}

function checkPattern(s: unknown): string {
  if (typeof s !== 'string') throw bad('subjects must be strings');
  const p = subjectProblem(s, true);
  if (p) throw new PlexusError(ErrorCode.INVALID_SUBJECT, `${s}: ${p}`, { details: { subject: s } });
  if (s.startsWith('$') || s.startsWith('_INBOX.') || s === '>' || s.startsWith('*')) {
    throw bad(`a stream may not capture ${s} (reserved or too broad)`, { subject: s });
  }
  return s;
}

/** Validate and default a stream config. */
export function parseStreamConfig(v: unknown, allowDlq = false): StreamConfig {
  const o = obj(v, 'stream config');
  const name = checkStreamName(o.name);
  if (!allowDlq && name.startsWith('DLQ.')) throw bad('DLQ.* streams are created by the service', { name });
  if (!Array.isArray(o.subjects) || o.subjects.length > 64) throw bad('subjects must be an array of at most 64 patterns');
  const subjects = o.subjects.map(checkPattern);
  checkMailboxShape(name, subjects);
  let fsync: DurableFsync = 'always';
  if (o.fsync !== undefined && o.fsync !== 'always') {
    const f = obj(o.fsync, 'fsync');
    const ms = optInt(f, 'intervalMs', 1, 3_600_000);
    if (ms === undefined) throw bad("fsync must be 'always' or { intervalMs }");
    fsync = { intervalMs: ms };
  }
  const retention = o.retention ?? 'limits';
  if (retention !== 'limits' && retention !== 'workqueue') throw bad("retention must be 'limits' or 'workqueue'");
  const out: { -readonly [K in keyof StreamConfig]: StreamConfig[K] } = {
    name,
    subjects,
    fsync,
    retention,
    dedupWindowMs: optInt(o, 'dedupWindowMs', 0, 86_400_000) ?? 120_000,
  };
  const mm = optInt(o, 'maxMessages', 1, Number.MAX_SAFE_INTEGER);
  const mb = optInt(o, 'maxBytes', 1, Number.MAX_SAFE_INTEGER);
  const ma = optInt(o, 'maxAgeMs', 1, Number.MAX_SAFE_INTEGER);
  if (mm !== undefined) out.maxMessages = mm;
  if (mb !== undefined) out.maxBytes = mb;
  if (ma !== undefined) out.maxAgeMs = ma;
  return out;
}

/**
 * Mailbox streams are `mbox-<owner>` capturing exactly `mailbox.<owner>`, and no other
 * stream may capture `mailbox.>`: so nobody can create a stream that reads someone
 * else's mail or swallows it.
 */
function checkMailboxShape(name: string, subjects: readonly string[]): void {
  const owner = name.startsWith('DLQ.') ? undefined : mailboxOwner(name);
  if (owner !== undefined) {
    if (owner.length === 0 || subjects.length !== 1 || subjects[0] !== `${MAILBOX_SUBJECT_PREFIX}${owner}`) {
      throw bad(`stream ${name} is a mailbox: it must capture exactly ${MAILBOX_SUBJECT_PREFIX}${owner}`, { name });
    }
    return;
  }
  for (const s of subjects) {
    if (patternsIntersect(s, `${MAILBOX_SUBJECT_PREFIX}>`)) {
      throw bad(`only mailbox streams (${MAILBOX_STREAM_PREFIX}<owner>) may capture ${s}`, { subject: s });
    }
  }
}

/** Validate and default a consumer config. */
export function parseConsumerConfig(v: unknown): ConsumerConfig {
  const o = obj(v, 'consumer config');
  const stream = checkStreamName(o.stream);
  const name = checkConsumerName(o.name);
  let deliverPolicy: DeliverPolicy = 'all';
  const dp = o.deliverPolicy;
  if (dp === 'new' || dp === 'all') deliverPolicy = dp;
  else if (dp !== undefined) {
    const start = optInt(obj(dp, 'deliverPolicy'), 'startSeq', 1, Number.MAX_SAFE_INTEGER);
    if (start === undefined) throw bad("deliverPolicy must be 'all', 'new' or { startSeq }");
    deliverPolicy = { startSeq: start };
  }
  const out: { -readonly [K in keyof ConsumerConfig]: ConsumerConfig[K] } = {
    stream,
    name,
    ackWaitMs: optInt(o, 'ackWaitMs', 1, 86_400_000) ?? 30_000,
    maxDeliver: optInt(o, 'maxDeliver', 1, 1000) ?? 5,
    deliverPolicy,
    maxAckPending: optInt(o, 'maxAckPending', 1, 1_000_000) ?? 10_000,
  };
  if (o.filterSubject !== undefined && o.filterSubject !== null) {
    if (typeof o.filterSubject !== 'string') throw bad('filterSubject must be a string');
    const p = subjectProblem(o.filterSubject, true);
    if (p) throw new PlexusError(ErrorCode.INVALID_SUBJECT, `${o.filterSubject}: ${p}`);
    out.filterSubject = o.filterSubject;
  }
  return out;
}

/** Compare two configs as stored (JSON, key order as produced by the parsers). */
export function sameConfig(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
