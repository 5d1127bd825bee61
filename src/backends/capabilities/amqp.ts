/** What the amqp:// adapter gives. Keep in step with docs/backends/amqp.md. */
import type { Capabilities } from './types.js';

/** Durable queues on RabbitMQ (quorum queues, publisher confirms, DLX) are designed but not built. */
const QUEUES_NOT_BUILT =
  'not built yet: queues and mailboxes on RabbitMQ quorum queues (publisher confirms, x-delivery-limit, dead-letter exchange) are not implemented in this adapter; queue(bus, …) and mailbox(bus, …) throw PLEXUS_ERR_NOT_SUPPORTED';

/** RabbitMQ keeps messages, not keyed state. */
const NO_KV =
  'RabbitMQ has no key/value store (no get by key, compare-and-set, TTL per key or watch); kv(bus, …) throws PLEXUS_ERR_NOT_SUPPORTED — use the embedded broker, nats:// or redis:// for KV';

const NO_LOCKS =
  'locks are leases on a KV entry (revision = fencing token) and RabbitMQ has no KV; lock(bus, …) throws PLEXUS_ERR_NOT_SUPPORTED';

export const AMQP: Capabilities = {
  pubsub: true,
  wildcards: true,
  'queue-groups': true,
  'request-reply': true,
  'request-deadline': true,
  'cancel-to-responder': true,
  'no-responders': true,
  'responder-gone':
    'RabbitMQ does not tell a requester that the responder holding its request disconnected (requests are consumed without acks on direct reply-to); the request ends at its deadline',
  headers: true,
  'error-replies': true,
  identity: true,
  'identity-unforgeable': true,
  'subscribe-backpressure':
    "subscriptions consume without acks, so RabbitMQ pushes as fast as the socket takes; overflow 'block' is refused with PLEXUS_ERR_NOT_SUPPORTED and the default becomes 'error'",
  queue: QUEUES_NOT_BUILT,
  'queue-redelivery': QUEUES_NOT_BUILT,
  'queue-dlq': QUEUES_NOT_BUILT,
  'queue-dedup': QUEUES_NOT_BUILT,
  'queue-delay': QUEUES_NOT_BUILT,
  mailbox: QUEUES_NOT_BUILT,
  kv: NO_KV,
  'kv-ttl': NO_KV,
  'kv-watch': NO_KV,
  'kv-history': NO_KV,
  lock: NO_LOCKS,
  'lock-fencing': NO_LOCKS,
};
