import { ErrorCode, PlexusError } from '../errors/index.js';
import type { ByteChannel } from './channel.js';
import { InprocHub } from './inproc.js';
import { tcpTransport, tlsTransport, unixTransport } from './net.js';
import { stdioTransport } from './stdio.js';
import type { DialOptions, ListenOptions, Listener, TransportFactory, TransportTable } from './types.js';
import { wsTransport } from './ws.js';
import { shmTransport } from './shm.js';
import { workerTransport } from './worker.js';
import { fifoTransport } from './fifo.js';
import { udpTransport } from './udp.js';
import { parseAddress } from './address.js';

export * from './types.js';
export * from './channel.js';
export * from './address.js';
export { FramedTransport, connectionLost, DEFAULT_MAX_FRAME_BYTES, type TransportSink, type FramedTransportOptions, type Lane } from './framed.js';
export { InprocHub, inprocPair } from './inproc.js';
export { channelFromStreams } from './stdio.js';
export { StreamChannel } from './stream-channel.js';
export {
  channelFromPort,
  workerPortPair,
  workerPortTransport,
  workerTransport,
  WORKER_PORT_KEY,
  WORKER_RINGS_KEY,
  type PortChannelOptions,
  type WorkerPair,
  type WorkerPairOptions,
} from './worker.js';
export { shmTransport, shmSocketPath } from './shm.js';
export { FifoWriter, openFifoWriter, ensureFifo, fifoPath, type FifoWriterOptions } from './fifo.js';
export { FifoReader, openFifoReader, type FifoReaderOptions } from './fifo-reader.js';
export {
  UdpPublisher,
  UdpReceiver,
  udpEndpoint,
  UDP_MAX_DATAGRAM_BYTES,
  DEFAULT_UDP_DATAGRAM_BYTES,
  type UdpMessage,
  type UdpPublisherOptions,
  type UdpReceiverOptions,
  type UdpReceiverStats,
} from './udp.js';
export { FIFO_ATOMIC_BYTES, type FifoMessage, type FifoWriterIdentity, type FifoDecoderStats } from './fifo-record.js';

/** The hub used for `inproc://` when the caller passes none. */
export const defaultInprocHub = new InprocHub();

const inprocTransport: TransportFactory = {
  async dial(url, options) {
    return (options.inproc ?? defaultInprocHub).dial(url.host + url.pathname);
  },
  async listen(url, options, accept) {
    const name = url.host + url.pathname;
    const stop = (options.inproc ?? defaultInprocHub).listen(name, accept);
    return { url: `inproc://${name}`, close: async () => stop() };
  },
};

/**
 * The transports Plexus ships, by URL scheme. Pass your own table (spread this one)
 * to `connect`/`startBroker` to add or replace one; nothing is registered globally.
 */
export const defaultTransports: TransportTable = Object.freeze({
  'inproc:': inprocTransport,
  'unix:': unixTransport,
  'tcp:': tcpTransport,
  'tls:': tlsTransport,
  'ws:': wsTransport,
  'wss:': wsTransport,
  'stdio:': stdioTransport,
  'worker:': workerTransport,
  'shm:': shmTransport,
  'fifo:': fifoTransport,
  'udp:': udpTransport,
});

function pick(table: TransportTable, url: URL): TransportFactory {
  const t = Object.hasOwn(table, url.protocol) ? table[url.protocol] : undefined;
  if (!t) {
    throw new PlexusError(
      ErrorCode.UNSUPPORTED_TRANSPORT,
      `no transport for ${url.protocol}// (known: ${Object.keys(table).join(', ')})`,
    );
  }
  return t;
}

/** Dial an address with the transport its scheme names. */
export async function dial(address: string, options: DialOptions = {}, table: TransportTable = defaultTransports): Promise<ByteChannel> {
  const url = parseAddress(address);
  const transport = pick(table, url);
  // Checked here once, so no transport starts (and leaves behind) a connection for a
  // caller who has already given up.
  if (options.signal?.aborted) {
    throw new PlexusError(ErrorCode.CANCELLED, `dialing ${url.href} was cancelled`, { cause: options.signal.reason });
  }
  return transport.dial(url, options);
}

/** Listen on an address with the transport its scheme names. */
export async function listen(
  address: string,
  options: ListenOptions,
  accept: (channel: ByteChannel) => void,
  table: TransportTable = defaultTransports,
): Promise<Listener> {
  const url = parseAddress(address);
  return pick(table, url).listen(url, options, accept);
}
