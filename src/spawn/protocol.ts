/**
 * What `spawn()` tells the child through its environment, read back by `connectParent()`.
 */

/** How the child's connection to its parent travels. */
export type SpawnTransport = 'stdio' | 'ipc' | 'shm';

/** Environment variables set for the child. */
export const SpawnEnv = {
  /** `stdio:`, `ipc:` or `shm://<name>`: where connectParent() dials. */
  PARENT: 'PLEXUS_PARENT',
  /** Subject the child publishes on once it is connected and its handlers are registered. */
  READY: 'PLEXUS_PARENT_READY',
} as const;
