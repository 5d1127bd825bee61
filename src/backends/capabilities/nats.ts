/** What the nats:// adapter gives. Keep in step with docs/backends.md. */
import type { Capabilities } from './types.js';

export const NATS: Capabilities = {
  pubsub: true,
  wildcards: true,
  'queue-groups': true,
  'request-reply': true,
  'request-deadline': true,
  'cancel-to-responder': true,
  'no-responders': true,
  'responder-gone':
    'core NATS does not tell a requester that the responder holding its request disconnected; the request ends at its deadline',
  headers: true,
  'error-replies': true,
  identity: true,
  'identity-unforgeable':
    'the sender identity travels in a Plexus-From header set by the sending client; NATS does not stamp it, so any client can assert any identity',
  'subscribe-backpressure':
    "core NATS has no flow control back to publishers; overflow 'block' is refused with PLEXUS_ERR_NOT_SUPPORTED and the default becomes 'error'",
  queue: 'not built yet: the durable patterns on JetStream are in progress',
  'queue-redelivery': 'not built yet: the durable patterns on JetStream are in progress',
  'queue-dlq': 'not built yet: the durable patterns on JetStream are in progress',
  'queue-dedup': 'not built yet: the durable patterns on JetStream are in progress',
  'queue-delay': 'not built yet: the durable patterns on JetStream are in progress',
  mailbox: 'not built yet: the durable patterns on JetStream are in progress',
  kv: 'not built yet: the durable patterns on JetStream are in progress',
  'kv-ttl': 'not built yet: the durable patterns on JetStream are in progress',
  'kv-watch': 'not built yet: the durable patterns on JetStream are in progress',
  'kv-history': 'not built yet: the durable patterns on JetStream are in progress',
  lock: 'not built yet: the durable patterns on JetStream are in progress',
  'lock-fencing': 'not built yet: the durable patterns on JetStream are in progress',
};
