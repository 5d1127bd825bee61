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
  type StoredMessage,
} from './client.js';
export { consume, type ConsumeOptions, type MessageStream } from './consume.js';
export { MAX_PUSH_CREDIT, type PushGrant, type PushGrantReply } from './push.js';
export { encodeBatch, decodeBatch, type BatchEntry } from './batch-format.js';
export {
  DS,
  MAX_BATCH,
  MAX_EXPIRES_MS,
  MSG_ID_HEADER,
  DELAY_HEADER,
  DELIVER_AT_HEADER,
  TTL_HEADER,
  META_HEADER,
  STATUS_HEADER,
  MAX_DELAY_MS,
  MAX_TTL_MS,
  MAILBOX_STREAM_PREFIX,
  MAILBOX_SUBJECT_PREFIX,
  type PushMeta,
  type StreamConfig,
  type ConsumerConfig,
  type DeliverPolicy,
  type DurableFsync,
  type StreamInfo,
  type ConsumerInfo,
  type PublishAck,
  type WireDurableMessage,
} from './config.js';
