/**
 * Plexus public API.
 *
 * ```ts
 * import { startBroker, connect } from 'plexus';
 * const broker = await startBroker({ listen: ['tcp://127.0.0.1:0'] });
 * const bus = await connect(broker.urls[0]);
 * ```
 */
export * from './client/index.js';
export * from './broker/index.js';
// Shadows the core broker's startBroker: the same broker, plus the embedded durable service on request.
export { startBroker, DURABLE_IDENTITY, type ServerOptions, type EmbeddedDurableOptions, type PlexusServer } from './server/index.js';
export { PlexusError, ErrorCode, isErrorCode, type WireError } from './errors/index.js';
export { InprocHub, channelFromStreams, defaultTransports, defaultUrl, defaultSocketPath, DEFAULT_PORTS } from './transports/index.js';
export { channelFromPort, workerPortPair, workerPortTransport, type PortChannelOptions, type WorkerPair, type WorkerPairOptions } from './transports/index.js';
export type { TransportTable, TransportFactory, ByteChannel, Listener } from './transports/index.js';
export { spawn, connectParent, announceReady, hasParent, SpawnedChild, type SpawnOptions, type ChildExit, type ConnectParentOptions, type SpawnTransport } from './spawn/index.js';
export { openFifoReader, openFifoWriter, FifoReader, FifoWriter, UdpPublisher, UdpReceiver } from './transports/index.js';
export type { FifoMessage, FifoReaderOptions, FifoWriterOptions, UdpMessage, UdpPublisherOptions, UdpReceiverOptions } from './transports/index.js';
export type { Headers } from './wire/index.js';
// The local fast path as a namespace (shared segments, rings, Atomics primitives; docs/local.md):
// its Semaphore/Barrier would otherwise clash with the durable patterns' names.
export * as local from './local/index.js';
// Typed service contracts (docs/services.md).
export * from './contract/index.js';
// Patterns over the durable service: KV buckets, locks, semaphores, barriers, condition variables (docs/kv.md, docs/coordination.md).
export * from './patterns/index.js';
// Service discovery, load balancing and intents (docs/discovery.md).
export * from './discovery/index.js';
// HTTP/REST gateway with OpenAPI 3.1 (docs/gateway.md).
export {
  startGateway,
  OPENAPI_PATH,
  TIMEOUT_HEADER as GATEWAY_TIMEOUT_HEADER,
  CALLER_HEADER as GATEWAY_CALLER_HEADER,
  serviceStatus,
  toJsonSchema,
  type Gateway,
  type GatewayOptions,
  type GatewayRoute,
  type Authenticate,
  type HttpErrorBody,
  type StatusOverrides,
  type JsonSchema,
  type SchemaConversion,
} from './gateway/index.js';
// Scale-out backends behind the same Bus API (docs/backends.md).
export * from './backends/index.js';
