/** What the amqp:// adapter gives. Keep in step with docs/backends/amqp.md. */
import type { Capabilities } from './types.js';

/** Parts of durable queues on RabbitMQ that are not built. */
const NO_ACK_WAIT =
  'RabbitMQ has no per-message ack wait: an unsettled message is redelivered only when its consumer channel closes (its consumer_timeout closes the whole channel); nack() redelivers, but a message held past ackWaitMs is not handed to another consumer';
const NO_DLQ =
  'not built yet: dead letters via x-delivery-limit and a dead-letter exchange are not wired up; dlq().read()/count() reject with PLEXUS_ERR_NOT_SUPPORTED';
const NO_DEDUP =
  'RabbitMQ has no message deduplication (without a plugin); send() with msgId is refused with PLEXUS_ERR_NOT_SUPPORTED rather than storing duplicates';
const NO_DELAY =
  'RabbitMQ has no delayed delivery (without the delayed-message plugin); send() with delayMs/deliverAt is refused with PLEXUS_ERR_NOT_SUPPORTED';

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
  queue: true,
  'queue-redelivery': NO_ACK_WAIT,
  'queue-dlq': NO_DLQ,
  'queue-dedup': NO_DEDUP,
  'queue-delay': NO_DELAY,
  mailbox: true,
  kv: NO_KV,
  'kv-ttl': NO_KV,
  'kv-watch': NO_KV,
  'kv-history': NO_KV,
  lock: NO_LOCKS,
  'lock-fencing': NO_LOCKS,
};
