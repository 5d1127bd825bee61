/** A conformance feature, as named in docs/backends.md. */
export type Feature =
  | 'pubsub'
  | 'wildcards'
  | 'queue-groups'
  | 'request-reply'
  | 'request-deadline'
  | 'cancel-to-responder'
  | 'no-responders'
  | 'responder-gone'
  | 'headers'
  | 'error-replies'
  | 'identity'
  | 'identity-unforgeable'
  | 'subscribe-backpressure'
  // Durable patterns (src/patterns through the provider seam).
  | 'queue'
  | 'queue-redelivery'
  | 'queue-dlq'
  | 'queue-dedup'
  | 'queue-delay'
  | 'mailbox'
  | 'kv'
  | 'kv-ttl'
  | 'kv-watch'
  | 'kv-history'
  | 'lock'
  | 'lock-fencing';

/** Backends with an adapter. */
export type Backend = 'embedded' | 'nats' | 'amqp' | 'redis' | 'mqtt';

/** `true`: given; a string: not given, and why. */
export type Capability = true | string;

/** What one backend gives, feature by feature. */
export type Capabilities = Readonly<Record<Feature, Capability>>;
