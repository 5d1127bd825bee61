/** What the redis:// adapter gives. Keep in step with docs/backends.md. */
import type { Capabilities } from './types.js';

export const REDIS: Capabilities = {
  pubsub: true,
  wildcards: true,
  'queue-groups': true,
  'request-reply': true,
  'request-deadline': true,
  'cancel-to-responder': true,
  'no-responders': true,
  'responder-gone':
    'Redis pub/sub does not tell a requester that the responder holding its request disconnected; the request ends at its deadline',
  headers: true,
  'error-replies': true,
  identity: true,
  'identity-unforgeable':
    'the sender identity travels in the Plexus envelope written by the sending client; Redis does not stamp it, so any client can assert any identity',
  'subscribe-backpressure':
    "Redis pub/sub has no flow control back to publishers (it disconnects a subscriber whose output buffer overflows); overflow 'block' is refused with PLEXUS_ERR_NOT_SUPPORTED and the default becomes 'error'",
  queue: 'not built yet: queues, mailboxes, KV and locks on Redis Streams are not implemented in the redis:// adapter',
  'queue-redelivery': 'not built yet: queues, mailboxes, KV and locks on Redis Streams are not implemented in the redis:// adapter',
  'queue-dlq': 'not built yet: queues, mailboxes, KV and locks on Redis Streams are not implemented in the redis:// adapter',
  'queue-dedup': 'not built yet: queues, mailboxes, KV and locks on Redis Streams are not implemented in the redis:// adapter',
  'queue-delay': 'not built yet: queues, mailboxes, KV and locks on Redis Streams are not implemented in the redis:// adapter',
  mailbox: 'not built yet: queues, mailboxes, KV and locks on Redis Streams are not implemented in the redis:// adapter',
  kv: 'not built yet: queues, mailboxes, KV and locks on Redis Streams are not implemented in the redis:// adapter',
  'kv-ttl': 'not built yet: queues, mailboxes, KV and locks on Redis Streams are not implemented in the redis:// adapter',
  'kv-watch': 'not built yet: queues, mailboxes, KV and locks on Redis Streams are not implemented in the redis:// adapter',
  'kv-history': 'not built yet: queues, mailboxes, KV and locks on Redis Streams are not implemented in the redis:// adapter',
  lock: 'not built yet: queues, mailboxes, KV and locks on Redis Streams are not implemented in the redis:// adapter',
  'lock-fencing': 'not built yet: queues, mailboxes, KV and locks on Redis Streams are not implemented in the redis:// adapter',
};
