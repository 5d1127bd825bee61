import { ErrorCode, PlexusError } from '../errors/index.js';
import type { ByteChannel, ChannelHandlers, ChannelInfo } from './channel.js';

const HIGH_WATER = 4 * 1024 * 1024;

/**
 * One end of an in-memory channel pair. Chunks are passed by reference (the framer never
 * reuses memory it handed out), delivered on a later microtask, and bounded: `write`
 * returns false once the peer holds more than 4 MiB it has not consumed.
 */
class InprocEnd implements ByteChannel {
  peer!: InprocEnd;
  private handlers: ChannelHandlers | undefined;
  private readonly inbox: Uint8Array[] = [];
  private inboxBytes = 0;
  private paused = false;
  private scheduled = false;
  private closed = false;
  private ending = false;
  private wantDrain = false;

  constructor(readonly info: ChannelInfo) {}

  attach(handlers: ChannelHandlers): void {
    this.handlers = handlers;
    // Closed before anyone listened (e.g. the dialer gave up at once): still say so.
    if (this.closed) queueMicrotask(() => handlers.close(this.closeError));
    else this.schedule();
  }

  write(chunk: Uint8Array): boolean {
    if (this.closed || this.ending) return true;
    this.peer.enqueue(chunk);
    if (this.peer.inboxBytes > HIGH_WATER) {
      this.wantDrain = true;
      return false;
    }
    return true;
  }

  end(): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    this.peer.enqueueEnd();
  }

  destroy(err?: Error): void {
    this.closeLocal(err);
    this.peer.closeLocal();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.schedule();
  }

  private endQueued = false;

  enqueue(chunk: Uint8Array): void {
    if (this.closed) return;
    this.inbox.push(chunk);
    this.inboxBytes += chunk.length;
    this.schedule();
  }

  enqueueEnd(): void {
    this.endQueued = true;
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || !this.handlers) return;
    this.scheduled = true;
    queueMicrotask(() => this.deliver());
  }

  private deliver(): void {
    this.scheduled = false;
    while (!this.paused && !this.closed && this.inbox.length > 0) {
      const chunk = this.inbox.shift()!;
      this.inboxBytes -= chunk.length;
      this.handlers!.data(chunk);
    }
    if (this.inboxBytes <= HIGH_WATER / 2) this.peer.notifyDrain();
    if (this.endQueued && this.inbox.length === 0) {
      this.closeLocal();
      this.peer.closeLocal();
    }
  }

  private notifyDrain(): void {
    if (!this.wantDrain || this.closed) return;
    this.wantDrain = false;
    queueMicrotask(() => this.handlers?.drain());
  }

  private closeError: Error | undefined;

  closeLocal(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError = err;
    this.inbox.length = 0;
    const h = this.handlers;
    if (h) queueMicrotask(() => h.close(err));
  }
}

/** Create a connected pair of in-memory byte channels. */
export function inprocPair(name = 'pair'): [ByteChannel, ByteChannel] {
  const a = new InprocEnd({ kind: 'inproc', remote: name });
  const b = new InprocEnd({ kind: 'inproc', remote: name });
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/**
 * A namespace of in-process listeners. It is an object you create and pass to both the
 * broker and its clients, not a module global (see docs/architecture.md).
 */
export class InprocHub {
  private readonly listeners = new Map<string, (channel: ByteChannel) => void>();

  /** Listen on `inproc://name`. */
  listen(name: string, accept: (channel: ByteChannel) => void): () => void {
    if (this.listeners.has(name)) {
      throw new PlexusError(ErrorCode.CONFIG, `inproc://${name} is already listening`);
    }
    this.listeners.set(name, accept);
    return () => {
      if (this.listeners.get(name) === accept) this.listeners.delete(name);
    };
  }

  /** Connect to `inproc://name`. */
  dial(name: string): ByteChannel {
    const accept = this.listeners.get(name);
    if (!accept) throw new PlexusError(ErrorCode.CONNECT_FAILED, `nothing listens on inproc://${name}`);
    const [client, server] = inprocPair(name);
    accept(server);
    return client;
  }
}
