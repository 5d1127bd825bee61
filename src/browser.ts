/**
 * Plexus for browsers: the client over `ws://` / `wss://` with the page's own WebSocket.
 * Bundled by scripts/build-browser.mjs into dist/browser/plexus.js (ESM), which the build
 * checks for Node built-ins (`node:` imports, Buffer, process, ...) and refuses to emit
 * with any. Import only browser-safe modules here.
 *
 * ```ts
 * import { connect } from './plexus.js';
 * const bus = await connect('ws://127.0.0.1:4852/');
 * for await (const m of bus.subscribe('news.>')) console.log(m.subject, m.string());
 * ```
 */
import { PlexusError, ErrorCode } from './errors/index.js';
import { openConnection, type Connection } from './client/connection.js';
import type { ConnectOptions } from './client/options.js';
import { browserTransports, dialFrom } from './transports/browser-ws.js';

export { Connection, type ConnectionStatus, type ServerInfo, type ConnectionEvents } from './client/connection.js';
export { Message, type Payload, type PublishOptions } from './client/message.js';
export { Subscription, type SubscribeOptions, type OverflowPolicy } from './client/subscription.js';
export type { RequestOptions } from './client/requests.js';
export type { RequestContext, RequestHandler } from './client/responder.js';
export { PlexusStream, type StreamOptions } from './client/stream.js';
export { StreamListener, type OpenStreamOptions, type AcceptStreamsOptions } from './client/streams.js';
export { PlexusError, ErrorCode, isErrorCode, type WireError } from './errors/index.js';
export {
  browserTransports,
  type BrowserWebSocketOptions,
  type WebSocketConstructor,
  type WebSocketLike,
} from './transports/browser-ws.js';
export type { TransportTable, TransportFactory, ByteChannel } from './transports/index.js';
export type { Headers } from './wire/index.js';
// Typed service clients (docs/services.md): the client side of src/contract. Serving stays
// on Node; a page's calls inherit no ambient deadline (it runs no handlers). Codecs: json
// (msgpack and cbor are left out of this bundle and throw if named).
export { defineService, isServiceContract, methodSubject, majorOfRange } from './contract/define.js';
export { ServiceError, type ServiceErrorWire } from './contract/errors.js';
export { callMethod, isRetryable } from './contract/call.js';
export { serviceClient, type ServiceClientOptions } from './contract/client.js';
export { callClientStream, callServerStream } from './contract/stream-call.js';
export type { CallOptions, ClientMethod, RetryOptions, ServiceClient } from './contract/handler-types.js';
export type { ServiceContract, ServiceDefinition, MethodDefinition, CallInput, CallOutput } from './contract/types.js';
export type { StandardSchemaV1, ValidationIssue } from './contract/standard-schema.js';
export { json, type Codec } from './codec/index.js';

/**
 * Options for the browser `connect`: the Node options less `tls` (the browser does TLS
 * for `wss://`) and `inproc`. `transports` defaults to {@link browserTransports}.
 */
export type BrowserConnectOptions = Omit<ConnectOptions, 'tls' | 'inproc'>;

/**
 * Connect to a broker's WebSocket listener. There is no default address in a browser:
 * pass one (or several, tried in turn and rotated through on reconnect).
 */
export async function connect(url: string | readonly string[], options: BrowserConnectOptions = {}): Promise<Connection> {
  const urls = typeof url === 'string' ? [url] : [...(url ?? [])];
  if (urls.length === 0) throw new PlexusError(ErrorCode.INVALID_URL, 'connect needs a ws:// or wss:// URL');
  return openConnection(urls, options, dialFrom(options.transports ?? browserTransports()));
}
