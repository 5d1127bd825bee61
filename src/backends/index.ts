export { connectBus } from './connect-bus.js';
export { CAPABILITIES, unsupportedReason, type Backend, type Capability, type Capabilities, type Feature } from './capabilities.js';
