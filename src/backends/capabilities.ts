/**
 * What each backend gives, feature by feature (one file per backend under
 * capabilities/). The conformance suite reads this: a feature that is not given is
 * reported as `not supported by <backend>: <reason>`, never silently skipped. Keep in
 * step with the table in docs/backends.md (a test checks the reasons).
 */
import { AMQP } from './capabilities/amqp.js';
import { EMBEDDED } from './capabilities/embedded.js';
import { MQTT } from './capabilities/mqtt.js';
import { NATS } from './capabilities/nats.js';
import { REDIS } from './capabilities/redis.js';
import type { Backend, Capabilities, Feature } from './capabilities/types.js';

export type { Backend, Capability, Capabilities, Feature } from './capabilities/types.js';

export const CAPABILITIES: Readonly<Record<Backend, Capabilities>> = {
  embedded: EMBEDDED,
  nats: NATS,
  amqp: AMQP,
  redis: REDIS,
  mqtt: MQTT,
};

/** The reason a backend does not give `feature`, or undefined when it does. */
export function unsupportedReason(backend: Backend, feature: Feature): string | undefined {
  const c = CAPABILITIES[backend][feature];
  return c === true ? undefined : c;
}
