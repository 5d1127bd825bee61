/** What the mqtt:// adapter gives. Keep in step with docs/backends/mqtt.md. */
import type { Capabilities } from './types.js';

const NO_WORK_QUEUES =
  'MQTT has no acknowledged work queues: QoS 1/2 acks are per hop and a message is gone once delivered, so there is no redelivery after a consumer fails, no dead letters and no queue inspection; persistent sessions only buffer for one client id';

export const MQTT: Capabilities = {
  pubsub: true,
  wildcards: true,
  'queue-groups': true,
  'request-reply': true,
  'request-deadline': true,
  'cancel-to-responder': true,
  'no-responders': true,
  'responder-gone':
    'MQTT tells nobody which client holds a request, so a responder that disconnects mid-request is not noticed: the caller waits for its deadline (PLEXUS_ERR_TIMEOUT)',
  headers: true,
  'error-replies': true,
  identity: true,
  'identity-unforgeable':
    'the sender identity travels in a Plexus-From user property set by the sending client; the MQTT broker does not stamp it, so any client can assert any identity',
  'subscribe-backpressure':
    "mqtt.js acknowledges deliveries as they arrive and the broker does not hold publishers back, so overflow 'block' is refused (PLEXUS_ERR_NOT_SUPPORTED); a full subscription drops or errors",
  queue: NO_WORK_QUEUES,
  'queue-redelivery': NO_WORK_QUEUES,
  'queue-dlq': 'MQTT has no dead-letter topics or delivery counts',
  'queue-dedup': 'MQTT has no message ids that outlive one hop, so a broker cannot drop duplicate sends',
  'queue-delay': 'MQTT 5 has message expiry but no delayed delivery',
  mailbox: 'a mailbox is a durable queue with redelivery, which MQTT does not have (a persistent session buffers for one client id only, without acks the application controls)',
  kv: 'MQTT retained messages keep one value per topic but have no revisions, no compare-and-set and no atomic create, so a KV bucket cannot be built on them safely',
  'kv-ttl': 'no KV on MQTT (retained messages have no revisions or compare-and-set)',
  'kv-watch': 'no KV on MQTT (retained messages have no revisions or compare-and-set)',
  'kv-history': 'MQTT keeps only the last retained message per topic',
  lock: 'MQTT has no atomic compare-and-set or lease, so no mutual exclusion can be built on it',
  'lock-fencing': 'MQTT has no atomic counter to issue fencing tokens from',
};
