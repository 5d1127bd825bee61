import type { MsgHdrs, Msg } from 'nats';
import { ErrorCode, PlexusError } from '../../errors/index.js';
import { Message, type ReplyChannel } from '../../client/message.js';
import { CONN_HEADER, FROM_HEADER, encodeHeaders } from '../../wire/index.js';

/**
 * Plexus metadata travels in NATS headers under this prefix. NATS has no broker-stamped
 * sender identity, so `Plexus-From` is set by the sending adapter: asserted, not proven.
 */
export const NATS_HEADER = {
  from: 'Plexus-From',
  conn: 'Plexus-Conn',
  /** A request's timeout in ms, so the responder's `ctx.signal` fires at the caller's deadline. */
  timeout: 'Plexus-Timeout',
  /** On a reply: the payload is an error's JSON wire form. */
  error: 'Plexus-Error',
  /** On a cancel notice: the reply subject of the request being cancelled. */
  reply: 'Plexus-Reply',
} as const;

const RESERVED = 'plexus-';

/** Build NATS headers from application headers plus the adapter's own entries. */
export function toNatsHeaders(
  make: () => MsgHdrs,
  app: Readonly<Record<string, string>> | undefined,
  own: Readonly<Record<string, string>>,
): MsgHdrs {
  const h = make();
  try {
    if (app) {
      for (const [k, v] of Object.entries(app)) {
        if (k.startsWith(':') || k.toLowerCase().startsWith(RESERVED)) {
          throw new PlexusError(ErrorCode.INVALID_HEADERS, `header ${JSON.stringify(k)} is reserved (':' and 'Plexus-' keys belong to Plexus)`);
        }
        if (typeof v !== 'string') throw new PlexusError(ErrorCode.INVALID_HEADERS, `header ${JSON.stringify(k)} must be a string`);
        h.set(k, v);
      }
    }
    for (const [k, v] of Object.entries(own)) h.set(k, v);
  } catch (err) {
    if (err instanceof PlexusError) throw err;
    // nats.js refuses keys outside the HTTP token set (spaces, ':', …).
    throw new PlexusError(ErrorCode.INVALID_HEADERS, `NATS refused the headers: ${(err as Error).message}`, { cause: err });
  }
  return h;
}

/** A received NATS message as a Plexus `Message`: app headers, `from`, and the request timeout. */
export function toMessage(m: Msg, replier: ReplyChannel | undefined): Message {
  const record: Record<string, string> = Object.create(null) as Record<string, string>;
  let timeoutMs = 0;
  if (m.headers) {
    for (const [k, values] of m.headers) {
      const v = values[values.length - 1] ?? '';
      const lower = k.toLowerCase();
      if (lower === NATS_HEADER.from.toLowerCase()) record[FROM_HEADER] = v;
      else if (lower === NATS_HEADER.conn.toLowerCase()) record[CONN_HEADER] = v;
      else if (lower === NATS_HEADER.timeout.toLowerCase()) {
        const n = Number(v);
        timeoutMs = Number.isSafeInteger(n) && n > 0 ? n : 0;
      } else if (!lower.startsWith(RESERVED)) record[k] = v;
    }
  }
  return new Message({ subject: m.subject, reply: m.reply ?? '', payload: m.data, headers: encodeHeaders(record) }, timeoutMs, replier);
}

/** True when `msg` carries every header in `filter` (`*` = any value): the `headers` subscribe filter. */
export function headersMatch(msg: Message, filter: Readonly<Record<string, string>>): boolean {
  const h = msg.headers;
  for (const [k, v] of Object.entries(filter)) {
    const got = h[k];
    if (got === undefined || (v !== '*' && got !== v)) return false;
  }
  return true;
}
