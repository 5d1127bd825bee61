// Node entry: toDuplex() on streams comes with it (the browser build leaves it out).
import './stream-node.js';
export { connect } from './connect.js';
export type { Bus, ServeOptions } from './bus.js';
export { Connection, type ConnectionStatus, type ServerInfo, type ConnectionEvents } from './connection.js';
export { Message, type Payload, type PublishOptions } from './message.js';
export { Subscription, type SubscribeOptions, type OverflowPolicy } from './subscription.js';
export type { RequestOptions } from './requests.js';
export type { RequestContext, RequestHandler } from './responder.js';
export type { ConnectOptions } from './options.js';
export { PlexusStream, type StreamOptions } from './stream.js';
export { streamToDuplex } from './stream-node.js';
export { StreamListener, type OpenStreamOptions, type AcceptStreamsOptions } from './streams.js';
