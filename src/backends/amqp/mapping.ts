/**
 * How Plexus subjects, headers and metadata map onto AMQP 0-9-1 (RabbitMQ): subjects are
 * routing keys on one topic exchange, Plexus metadata rides in `Plexus-*` headers and the
 * sender identity in the `user_id` property, which RabbitMQ checks against the
 * authenticated user of the publishing connection.
 */
import type { ConsumeMessage, MessageProperties } from 'amqplib';
import { ErrorCode, PlexusError } from '../../errors/index.js';
import { Message, type ReplyChannel } from '../../client/message.js';
import { CONN_HEADER, FROM_HEADER, encodeHeaders } from '../../wire/index.js';

/** The topic exchange every Plexus subject is published to. */
export const EXCHANGE = 'plexus';

/** RabbitMQ's direct reply-to pseudo-queue (no queue per requester). */
export const DIRECT_REPLY_TO = 'amq.rabbitmq.reply-to';

/** Routing key of cancel notices (AMQP has no CANCEL: every serving connection binds it). */
export const CANCEL_KEY = '_PLEXUS.CANCEL';

/** AMQP short strings (routing and binding keys) are at most 255 bytes. */
const MAX_KEY_BYTES = 255;

/** Plexus metadata header names. */
export const AMQP_HEADER = {
  conn: 'Plexus-Conn',
  /** A request's timeout in ms, so the responder's `ctx.signal` fires at the caller's deadline. */
  timeout: 'Plexus-Timeout',
  /** On a reply: the payload is an error's JSON wire form. */
  error: 'Plexus-Error',
  /** On a cancel notice: the correlation id of the request being cancelled. */
  reply: 'Plexus-Reply',
} as const;

const RESERVED = 'plexus-';

/**
 * The binding key for a Plexus subscription pattern: `*` is AMQP's `*`; `>` (one or more
 * tokens) becomes `*.#` because AMQP's `#` also matches zero tokens. A literal `#` token
 * binds as a wildcard too, so receivers also check the Plexus pattern on receipt.
 */
export function bindingKey(pattern: string): string {
  const key = pattern.endsWith('.>') || pattern === '>' ? `${pattern.slice(0, -1)}*.#` : pattern;
  checkKeyLength(key);
  return key;
}

/** Throws PLEXUS_ERR_INVALID_SUBJECT when a routing key exceeds AMQP's 255 bytes. */
export function checkKeyLength(key: string): void {
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new PlexusError(ErrorCode.INVALID_SUBJECT, `subject is longer than AMQP's ${MAX_KEY_BYTES}-byte routing key limit`);
  }
}

/**
 * A request's reply address as Plexus sees it (`msg.reply`): the AMQP reply-to and the
 * correlation id, space-separated (neither a routing key nor our ids contain spaces).
 */
export function replyAddress(replyTo: string, correlationId: string | undefined): string {
  return `${replyTo} ${correlationId ?? ''}`;
}

/** Split a reply address back into reply-to and correlation id; a bare subject has no id. */
export function parseReplyAddress(reply: string): { replyTo: string; correlationId: string | undefined } {
  const i = reply.indexOf(' ');
  return i < 0 ? { replyTo: reply, correlationId: undefined } : { replyTo: reply.slice(0, i), correlationId: reply.slice(i + 1) || undefined };
}

/** Received header value as text (foreign publishers may send numbers, booleans, bytes). */
function headerText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
  return String(v);
}

/** A received AMQP message as a Plexus `Message`: app headers, `from`, the request timeout. */
export function toMessage(m: ConsumeMessage, subject: string, replier: ReplyChannel | undefined): Message {
  const props: MessageProperties = m.properties;
  const record: Record<string, string> = Object.create(null) as Record<string, string>;
  let timeoutMs = 0;
  for (const [k, raw] of Object.entries((props.headers ?? {}) as Record<string, unknown>)) {
    if (raw === undefined || raw === null) continue;
    const v = headerText(raw);
    const lower = k.toLowerCase();
    if (lower === AMQP_HEADER.conn.toLowerCase()) record[CONN_HEADER] = v;
    else if (lower === AMQP_HEADER.timeout.toLowerCase()) {
      const n = Number(v);
      timeoutMs = Number.isSafeInteger(n) && n > 0 ? n : 0;
    } else if (!lower.startsWith(RESERVED) && !k.startsWith(':')) record[k] = v;
  }
  // user_id is validated by RabbitMQ against the publisher's login; without it the sender is unknown.
  if (typeof props.userId === 'string' && props.userId !== '') record[FROM_HEADER] = props.userId;
  const replyTo = typeof props.replyTo === 'string' && props.replyTo !== '' ? props.replyTo : undefined;
  const reply = replyTo === undefined ? '' : replyAddress(replyTo, typeof props.correlationId === 'string' ? props.correlationId : undefined);
  return new Message({ subject, reply, payload: m.content, headers: encodeHeaders(record) }, timeoutMs, replier);
}
