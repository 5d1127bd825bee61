/**
 * Internal layers for sibling packages and tools (wire codec, framer, transports,
 * router). Not covered by semver.
 */
export * as wire from './wire/index.js';
export * as transports from './transports/index.js';
export { Router } from './broker/router.js';
export { FramedTransport } from './transports/index.js';
