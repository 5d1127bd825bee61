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
  | 'subscribe-backpressure';

/** Backends with an adapter. */
export type Backend = 'embedded' | 'nats';

/** `true`: given; a string: not given, and why. */
export type Capability = true | string;

/**
 * What each backend gives. The conformance suite reads this: a feature that is not
 * given is reported as `not supported by <backend>: <reason>`, never silently skipped.
 * Keep in step with the table in docs/backends.md.
 */
export const CAPABILITIES: Readonly<Record<Backend, Readonly<Record<Feature, Capability>>>> = {
  embedded: {
    pubsub: true,
    wildcards: true,
    'queue-groups': true,
    'request-reply': true,
    'request-deadline': true,
    'cancel-to-responder': true,
    'no-responders': true,
    'responder-gone': true,
    headers: true,
    'error-replies': true,
    identity: true,
    'identity-unforgeable': true,
    'subscribe-backpressure': true,
  },
  nats: {
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
  },
};

/** The reason a backend does not give `feature`, or undefined when it does. */
export function unsupportedReason(backend: Backend, feature: Feature): string | undefined {
  const c = CAPABILITIES[backend][feature];
  return c === true ? undefined : c;
}
