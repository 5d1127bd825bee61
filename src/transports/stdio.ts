import type { Readable, Writable } from 'node:stream';
import { ErrorCode, PlexusError } from '../errors/index.js';
import type { ByteChannel } from './channel.js';
import { StreamChannel } from './stream-channel.js';
import type { TransportFactory } from './types.js';

/**
 * A byte channel over any pair of Node streams: a child's stdout/stdin seen from the
 * parent, or this process's stdin/stdout seen from the child. EOF on the input ends the
 * connection, like a pipe.
 */
export function channelFromStreams(input: Readable, output: Writable, remote = 'stdio'): ByteChannel {
  return new StreamChannel(input, output, { kind: 'stdio', remote });
}

/**
 * `stdio:` — dialing uses this process's stdin/stdout (a child talking to its parent);
 * listening accepts exactly that one connection (a broker serving its parent).
 */
export const stdioTransport: TransportFactory = {
  async dial() {
    return channelFromStreams(process.stdin, process.stdout, 'parent');
  },
  async listen(_url, _options, accept) {
    if (process.stdin.isTTY) {
      throw new PlexusError(ErrorCode.CONFIG, 'stdio: needs a pipe on stdin, not a terminal');
    }
    accept(channelFromStreams(process.stdin, process.stdout, 'parent'));
    return { url: 'stdio:', close: async () => undefined };
  },
};
