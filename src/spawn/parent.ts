/**
 * The child's side of `spawn()`: `connectParent()` dials the parent over whatever the
 * parent chose (read from `PLEXUS_PARENT`) and announces itself once its handlers are in.
 */
import { connect, type ConnectOptions, type Connection } from '../client/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { defaultTransports, type TransportFactory } from '../transports/index.js';
import { IpcChannel } from './ipc-channel.js';
import { SpawnEnv } from './protocol.js';

/** Options for connectParent(). */
export interface ConnectParentOptions extends Omit<ConnectOptions, 'reconnect' | 'transports' | 'inproc'> {
  /**
   * `auto`: tell the parent "ready" on the next turn of the event loop, i.e. after the
   * handlers registered right after `await connectParent()` (so the parent's first
   * request finds them). `manual`: call `announceReady(conn)` yourself. @default 'auto'
   */
  readonly ready?: 'auto' | 'manual';
  /**
   * Over stdio, stdout is the wire: send console.log/info/debug/warn to stderr instead
   * (the parent sees them as stderr lines). @default true
   */
  readonly redirectConsole?: boolean;
  /** Exit the process (code 0) when the connection to the parent ends. @default true */
  readonly exitOnDisconnect?: boolean;
}

const ipcTransport: TransportFactory = {
  async dial() {
    if (typeof process.send !== 'function') {
      throw new PlexusError(ErrorCode.CONNECT_FAILED, 'no IPC channel to the parent (not started with transport "ipc")');
    }
    return new IpcChannel(process, 'parent');
  },
  async listen() {
    throw new PlexusError(ErrorCode.CONFIG, 'ipc: cannot be listened on; the parent accepts its child with spawn()');
  },
};

/** True when this process was started by Plexus's spawn(). */
export function hasParent(): boolean {
  return typeof process.env[SpawnEnv.PARENT] === 'string';
}

/**
 * Connect to the parent that started this process with `spawn()`.
 * @throws PLEXUS_ERR_CONFIG when this process was not started by spawn().
 */
export async function connectParent(options: ConnectParentOptions = {}): Promise<Connection> {
  const address = process.env[SpawnEnv.PARENT];
  if (!address) {
    throw new PlexusError(ErrorCode.CONFIG, `connectParent(): ${SpawnEnv.PARENT} is not set; this process was not started by spawn()`);
  }
  const { ready = 'auto', redirectConsole = true, exitOnDisconnect = true, ...connectOptions } = options;
  if (address === 'stdio:' && redirectConsole) {
    // Anything printed on stdout would corrupt the frames.
    console.log = console.info = console.debug = console.warn = console.error;
  }
  const conn = await connect(address, {
    name: `child ${process.pid}`,
    ...connectOptions,
    reconnect: false, // the parent is the only peer; when it is gone, so is the point
    transports: { ...defaultTransports, 'ipc:': ipcTransport },
  });
  void conn.closed.then(() => {
    if (address === 'ipc:' && process.connected) process.disconnect?.();
    if (exitOnDisconnect) process.exit(0);
  });
  if (ready === 'auto') setImmediate(() => announceReady(conn));
  return conn;
}

/** Tell the parent this child is ready (its spawn() resolves). Only needed with `ready: 'manual'`. */
export function announceReady(conn: Connection): void {
  const subject = process.env[SpawnEnv.READY];
  if (!subject) throw new PlexusError(ErrorCode.CONFIG, `announceReady(): ${SpawnEnv.READY} is not set; this process was not started by spawn()`);
  conn.publish(subject, String(process.pid));
}
