export { startBroker, DURABLE_IDENTITY, type ServerOptions, type EmbeddedDurableOptions, type PlexusServer } from './start.js';
