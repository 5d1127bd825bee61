/**
 * A byte channel over two SPSC rings, one per direction: the data path shared by
 * `shm://` (rings in a shared segment, between processes) and `worker:` in ring mode
 * (rings in a SharedArrayBuffer, between threads). A {@link RingLink} says when the peer
 * is gone and releases what the connection holds (socket, segment, port).
 *
 * `write()` copies the chunk into the outbound ring (split into records of at most the
 * ring's record limit); when the ring is full the rest stays queued, `write()` returns
 * false, and `drain` follows once the queue has gone into the ring. The reader delivers
 * all records ready at once as one chunk (up to {@link RING_BATCH_BYTES}: the bytes are a
 * stream, record boundaries mean nothing, and one delivery per burst saves the per-record
 * allocation, head store and decoder call); it polls from the event loop for {@link RING_POLL_MS}
 * before sleeping in the ring's async wait. `end()` closes the outbound ring for writing
 * once the queue is in; the peer reads to the end and closes too.
 */
import { ErrorCode, PlexusError } from '../errors/index.js';
import type { SpscRing } from '../local/index.js';
import type { ByteChannel, ChannelHandlers, ChannelInfo } from './channel.js';

/** How long a reader polls from the event loop before sleeping in the ring's wait. */
export const RING_POLL_MS = 0.5;
/** Most payload bytes delivered in one chunk (a single larger record still goes whole). */
export const RING_BATCH_BYTES = 256 * 1024;

/** What ties a ring channel to its peer besides the rings. */
export interface RingLink {
  /** Call `gone` once when the peer disappears (process or thread ended, line dropped). */
  watch(gone: () => void): void;
  /** The close error when the peer went away without ending. */
  goneError(): Error;
  /** Release what the connection holds; called once, on close. */
  release(): void;
}

export class RingChannel implements ByteChannel {
  readonly info: ChannelInfo;
  private handlers: ChannelHandlers | undefined;
  private readonly abort = new AbortController();
  private readonly queue: Uint8Array[] = [];
  private paused = false;
  private closed = false;
  private ending = false;
  private endWritten = false;
  private waitingWritable = false;
  private wantDrain = false;
  private pumping = false;
  private closeError: Error | undefined;

  constructor(
    private readonly tx: SpscRing,
    private readonly rx: SpscRing,
    private readonly link: RingLink,
    info: ChannelInfo,
  ) {
    this.info = info;
    link.watch(() => this.onPeerGone());
  }

  attach(handlers: ChannelHandlers): void {
    this.handlers = handlers;
    if (this.closed) {
      const err = this.closeError;
      queueMicrotask(() => handlers.close(err));
      return;
    }
    void this.pump();
  }

  write(chunk: Uint8Array): boolean {
    if (this.closed || this.ending) return true;
    if (this.queue.length === 0) {
      if (this.writeNow(chunk)) return true;
    } else {
      this.queue.push(chunk); // keep the order behind what is already waiting
    }
    this.wantDrain = true;
    this.waitForRoom();
    return false;
  }

  /** Writes as much of `chunk` as fits; queues the rest (returns false then). */
  private writeNow(chunk: Uint8Array): boolean {
    const max = this.tx.maxRecordBytes;
    let off = 0;
    try {
      while (off < chunk.length) {
        const piece = chunk.length - off > max ? chunk.subarray(off, off + max) : off === 0 ? chunk : chunk.subarray(off);
        if (!this.tx.tryWrite(piece)) break;
        off += piece.length;
      }
    } catch (err) {
      this.fail(err as Error); // the peer closed its reading side
      return true;
    }
    if (off === chunk.length) return true;
    this.queue.push(off === 0 ? chunk : chunk.subarray(off));
    return false;
  }

  /** Moves queued chunks into the ring; true once the queue is empty. */
  private flushQueue(): boolean {
    while (this.queue.length > 0 && !this.closed) {
      const chunk = this.queue.shift()!;
      if (!this.writeNow(chunk)) {
        // writeNow queued the remainder at the end; it belongs at the front.
        this.queue.unshift(this.queue.pop()!);
        return false;
      }
    }
    return true;
  }

  private waitForRoom(): void {
    if (this.waitingWritable || this.closed) return;
    this.waitingWritable = true;
    void (async () => {
      try {
        while (!this.closed && !this.flushQueue()) {
          const head = this.queue[0]!;
          await this.tx.waitWritable(Math.min(head.length, this.tx.maxRecordBytes), { signal: this.abort.signal });
        }
      } catch (err) {
        if (!this.closed) this.fail(err as Error);
        return;
      } finally {
        this.waitingWritable = false;
      }
      if (this.closed) return;
      if (this.ending) this.writeEnd();
      if (this.wantDrain) {
        this.wantDrain = false;
        this.handlers?.drain();
      }
    })();
  }

  end(): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    if (this.queue.length === 0) this.writeEnd();
  }

  private writeEnd(): void {
    if (this.endWritten) return;
    this.endWritten = true;
    this.tx.closeWrite();
  }

  destroy(err?: Error): void {
    this.closeLocal(err);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (!this.pumping && this.handlers) void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.closed && !this.paused) {
        const rec = this.rx.tryReadBatch(RING_BATCH_BYTES);
        if (rec !== undefined) {
          this.handlers!.data(rec);
          continue;
        }
        if (await this.pollBriefly()) continue;
        if (!(await this.rx.waitReadable({ signal: this.abort.signal }))) {
          // The peer ended (or was destroyed): everything it wrote has been delivered.
          this.closeLocal();
          return;
        }
      }
    } catch (err) {
      if (!this.closed) this.fail(err as Error);
    } finally {
      this.pumping = false;
    }
  }

  /**
   * Before sleeping in the futex (whose async form costs a helper thread per wait), poll
   * the ring from the event loop for a short while: replies and bursts usually arrive
   * within it. True when there is something to do (data, the end, a close or a pause).
   */
  private async pollBriefly(): Promise<boolean> {
    const until = performance.now() + RING_POLL_MS;
    while (performance.now() < until) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.closed || this.paused || this.rx.usedBytes !== 0 || this.rx.writeClosed) return true;
    }
    return false;
  }

  private fail(err: Error): void {
    const code = (err as PlexusError).code;
    this.closeLocal(code === ErrorCode.PEER_DIED ? err : new PlexusError(ErrorCode.CONNECTION_LOST, `${this.info.remote}: ${err.message}`, { cause: err }));
  }

  private onPeerGone(): void {
    if (this.closed) return;
    // The peer is gone or dropped the connection. Deliver what it wrote before, then
    // close: cleanly if it had ended, else with the link's error.
    const ended = this.rx.writeClosed;
    if (!this.paused && this.handlers) {
      try {
        for (let rec = this.rx.tryReadBatch(RING_BATCH_BYTES); rec !== undefined && !this.closed; rec = this.rx.tryReadBatch(RING_BATCH_BYTES)) this.handlers?.data(rec);
      } catch {
        // Closing anyway.
      }
    }
    if (ended) {
      this.closeLocal();
      return;
    }
    const err = this.link.goneError();
    this.closeLocal(err);
  }

  private closeLocal(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError = err;
    this.queue.length = 0;
    this.abort.abort(new PlexusError(ErrorCode.CONNECTION_CLOSED, 'channel closed'));
    try {
      if (!this.endWritten) {
        this.endWritten = true;
        this.tx.closeWrite();
      }
      this.rx.closeRead();
    } catch {
      // The rings are best effort at this point.
    }
    this.link.release();
    const h = this.handlers;
    if (h) queueMicrotask(() => h.close(err));
  }
}
