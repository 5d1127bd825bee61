/**
 * Plexus metadata on MQTT 5 messages. Application headers are user properties; the
 * adapter's own entries are user properties under the reserved `Plexus-` prefix
 * (sender identity, connection, request timeout, error flag, cancelled reply). MQTT
 * stamps no sender, so `Plexus-From` is a label set by the sending adapter.
 */
import { Message, type ReplyChannel } from '../../client/message.js';
import { CONN_HEADER, FROM_HEADER, encodeHeaders } from '../../wire/index.js';
import { topicToSubject } from './topics.js';

export const MQTT_PROP = {
  from: 'Plexus-From',
  conn: 'Plexus-Conn',
  /** A request's timeout in ms, so the responder's `ctx.signal` fires at the caller's deadline. */
  timeout: 'Plexus-Timeout',
  /** On a reply: the payload is an error's JSON wire form. */
  error: 'Plexus-Error',
  /** On a cancel notice: the reply subject of the request being cancelled. */
  reply: 'Plexus-Reply',
} as const;

const RESERVED_LOWER = 'plexus-';

/** mqtt.js's shape for user properties (a repeated key arrives as an array). */
export type UserProperties = Record<string, string | string[]>;

/** The MQTT 5 properties of a received PUBLISH that Plexus reads. */
export interface ReceivedProperties {
  readonly userProperties?: UserProperties | undefined;
  readonly responseTopic?: string | undefined;
  readonly subscriptionIdentifier?: number | number[] | undefined;
}

/** User properties for checked application headers plus the adapter's own entries. */
export function toUserProperties(app: Readonly<Record<string, string>> | undefined, own: Readonly<Record<string, string>>): Record<string, string> {
  return app ? { ...app, ...own } : { ...own };
}

/** A user property's value (the last one when repeated). */
export function propValue(props: UserProperties | undefined, key: string): string | undefined {
  const v = props?.[key];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

/**
 * A received PUBLISH as a Plexus `Message`: app headers, `from`, the request timeout,
 * and the response topic as the reply subject.
 */
export function toMessage(subject: string, payload: Uint8Array, props: ReceivedProperties | undefined, replier: ReplyChannel | undefined): Message {
  const record: Record<string, string> = Object.create(null) as Record<string, string>;
  let timeoutMs = 0;
  for (const [k, raw] of Object.entries(props?.userProperties ?? {})) {
    const v = Array.isArray(raw) ? (raw[raw.length - 1] ?? '') : raw;
    const lower = k.toLowerCase();
    if (lower === 'plexus-from') record[FROM_HEADER] = v;
    else if (lower === 'plexus-conn') record[CONN_HEADER] = v;
    else if (lower === 'plexus-timeout') {
      const n = Number(v);
      timeoutMs = Number.isSafeInteger(n) && n > 0 ? n : 0;
    } else if (!lower.startsWith(RESERVED_LOWER) && !k.startsWith(':')) record[k] = v;
  }
  const reply = props?.responseTopic ? topicToSubject(props.responseTopic) : '';
  return new Message({ subject, reply, payload, headers: encodeHeaders(record) }, timeoutMs, replier);
}

/** The subscription ids a PUBLISH was delivered for (MQTT 5 subscription identifiers). */
export function subscriptionIds(props: ReceivedProperties | undefined): readonly number[] {
  const v = props?.subscriptionIdentifier;
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}
