/** spawn() / connectParent(): a child process as a Plexus peer (S16). */
export { spawn, type SpawnOptions } from './spawn.js';
export { SpawnedChild, type ChildExit, type SpawnedChildEvents } from './child.js';
export { connectParent, announceReady, hasParent, type ConnectParentOptions } from './parent.js';
export { IpcChannel, type IpcEndpoint } from './ipc-channel.js';
export { SpawnEnv, type SpawnTransport } from './protocol.js';
