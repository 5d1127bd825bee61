/**
 * Durable streams and consumers, as a service over the client API and the store
 * (docs/durable.md): `startDurableService` runs it, `durable(bus)` talks to it.
 */
export { startDurableService, DurableService, type DurableServiceOptions } from './service.js';
export {
  durable,
  type DurableClient,
  type DurableClientOptions,
  type DurableMessage,
  type StreamConfigInput,
  type ConsumerConfigInput,
} from './client.js';
export {
  DS,
  MAX_BATCH,
  MAX_EXPIRES_MS,
  MSG_ID_HEADER,
  type StreamConfig,
  type ConsumerConfig,
  type DeliverPolicy,
  type DurableFsync,
  type StreamInfo,
  type ConsumerInfo,
  type PublishAck,
  type WireDurableMessage,
} from './config.js';
