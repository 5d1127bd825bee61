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
  queue:
    'not built yet on nats: queues on JetStream work-queue streams are planned; queue() throws PLEXUS_ERR_NOT_SUPPORTED',
  'queue-redelivery':
    'not built yet on nats (no queues yet); queue() throws PLEXUS_ERR_NOT_SUPPORTED',
  'queue-dlq':
    'not built yet on nats (no queues yet); queue() throws PLEXUS_ERR_NOT_SUPPORTED',
  'queue-dedup':
    'not built yet on nats (no queues yet); queue() throws PLEXUS_ERR_NOT_SUPPORTED',
  'queue-delay':
    'not built yet on nats, and nats-server 2.9 has no delayed delivery; queue() throws PLEXUS_ERR_NOT_SUPPORTED',
  mailbox:
    'not built yet on nats; mailbox() throws PLEXUS_ERR_NOT_SUPPORTED',
  kv: true,
  'kv-ttl':
    'JetStream KV before nats-server 2.11 has only a bucket-wide TTL (the ttlMs given when the bucket is created); a put with a different ttlMs is refused with PLEXUS_ERR_NOT_SUPPORTED',
  'kv-watch': true,
  'kv-history': true,
  lock: true,
  'lock-fencing':
    'JetStream cannot check a lease and write a key in one atomic step, so a KV write with a fence is refused with PLEXUS_ERR_NOT_SUPPORTED',
};
