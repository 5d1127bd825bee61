/**
 * Internal layers for sibling packages and tools (wire codec, framer, transports,
 * router). Not covered by semver.
 */
export * as wire from './wire/index.js';
export * as transports from './transports/index.js';
export { Router } from './broker/router.js';
export { FramedTransport } from './transports/index.js';
/** The durable log (building block of streams, queues, mailboxes and KV; issue 3). */
export * as store from './store/index.js';
/** Shared memory, rings and cross-process wait/wake (the local fast path; issue 4). */
export * as local from './local/index.js';
/** Payload codecs: json, msgpack, cbor, protobuf (issue 5; wiring into typed services comes later). */
export * as codec from './codec/index.js';
/** Durable streams and consumers as a service over request/reply (issue 3, first layer). */
export * as durable from './durable/index.js';
