/**
 * Typed service contracts (issue 5 §1): define a service once with Standard Schema
 * types, serve it, call it with inferred types. See docs/services.md.
 */
// Node entry: handlers get AsyncLocalStorage, so calls inside them inherit deadlines.
import './ambient-node.js';
export type { StandardSchemaV1, ValidationIssue } from './standard-schema.js';
export { isStandardSchema } from './standard-schema.js';
export type {
  AnySchema,
  CallInput,
  CallOutput,
  CodecName,
  EventName,
  HandlerInput,
  HandlerOutput,
  MethodCodecs,
  MethodDefinition,
  MethodName,
  ServiceContract,
  ServiceDefinition,
  StreamKind,
} from './types.js';
export {
  defineService,
  eventSubject,
  isServiceContract,
  majorOfRange,
  methodOf,
  methodSubject,
  EVENT_SUBJECT_PREFIX,
  METHOD_SUBJECT_PREFIX,
} from './define.js';
export { ServiceError, type ServiceErrorWire } from './errors.js';
export type { HandlerContext, LogLevel, LogSink, ServiceLogger } from './context.js';
export { REQUEST_ID_HEADER } from './context.js';
export type { CallOptions, ClientMethod, MethodHandler, RetryOptions, ServiceClient, ServiceImpl } from './handler-types.js';
export { callMethod, isRetryable, type CallDefaults } from './call.js';
export { serviceClient, type ServiceClientOptions } from './client.js';
export { callClientStream, callServerStream } from './stream-call.js';
export { MAX_STREAM_MESSAGE_BYTES } from './stream-frames.js';
export { serveService, type ServeServiceOptions, type ServiceServer } from './serve.js';
export type { MethodStats } from './stats.js';
export {
  publishEvent,
  subscribeEvent,
  type EventInput,
  type EventPayload,
  type EventSubscription,
  type PublishEventOptions,
  type ContractEvent,
  type SubscribeEventOptions,
} from './events.js';
