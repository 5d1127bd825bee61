// Type only: the Duplex adapter itself lives in stream-node.ts (see toDuplex).
import type { Duplex } from 'node:stream';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { Flag, FrameType, type Frame, type FrameInit } from '../wire/index.js';
import { concatBytes, fromUtf8, utf8 } from './payload.js';
import type { InboxRoute } from './requests.js';

let duplexAdapter: ((stream: PlexusStream) => Duplex) | undefined;

/**
 * Install the Node `Duplex` adapter behind {@link PlexusStream.toDuplex}; stream-node.ts
 * calls it when loaded. Kept out of this file so browser bundles carry no `node:stream`.
 * @internal
 */
export function setDuplexAdapter(adapter: (stream: PlexusStream) => Duplex): void {
  duplexAdapter = adapter;
}

/** Options for opening or accepting a stream. */
export interface StreamOptions {
  /** Bytes this side is willing to buffer unread; the peer may have this much in flight. @default 2 MiB */
  readonly window?: number;
  /** Largest DATA frame payload. @default 64 KiB (capped by the broker's max payload) */
  readonly chunkBytes?: number;
  /** How long the peer may be unreachable (e.g. reconnecting) before the stream fails. @default 10000 */
  readonly peerTimeoutMs?: number;
  /** Keepalive interval while idle. @default 2000 */
  readonly keepaliveMs?: number;
}

/** What a stream needs from its connection. */
export interface StreamHost {
  sendFrame(init: FrameInit, whenDisconnected: 'hold' | 'skip'): number;
  addRoute(token: string, route: InboxRoute): void;
  removeRoute(token: string): void;
  newInbox(token: string): string;
  readonly maxPayload: number;
  /** Subscribe to reconnects; returns an unsubscribe function. */
  onReconnect(fn: () => void): () => void;
}

interface Pending {
  readonly bytes: Uint8Array;
  readonly offset: number;
}

interface WriteWaiter {
  readonly until: number;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

const U32 = 0x1_0000_0000;

/** Expand a 32-bit wire offset to the full offset nearest `near` (TCP-style sequence arithmetic). */
export function unwrapOffset(aux: number, near: number): number {
  return near + ((aux - (near % U32)) | 0);
}

/**
 * A reliable, flow-controlled duplex byte stream between two clients through the broker.
 *
 * Flow control is credit-based: a writer never has more than the reader's window in
 * flight, so a slow reader slows the writer and nothing buffers without bound. Every
 * DATA frame carries its byte offset; the writer keeps unacknowledged bytes (at most one
 * window) so that after a dropped connection it resends from the reader's offset and the
 * reader discards what it already has — no bytes lost or duplicated (S1). Ending the
 * write side sends END; the reader sees EOF after the last byte, like a pipe (S9).
 */
export class PlexusStream implements AsyncIterable<Uint8Array> {
  /** This side's inbox subject. */
  readonly localSubject: string;
  private peerSubject = '';
  private readonly window: number;
  private readonly chunkBytes: number;
  private readonly peerTimeoutMs: number;
  // writer state
  private sent = 0;
  private queuedEnd = 0;
  private peerConsumed = 0;
  private peerWindow = 0;
  private readonly unacked: Pending[] = [];
  private readonly toSend: Pending[] = [];
  private readonly writeWaiters: WriteWaiter[] = [];
  private writeEnded = false;
  private endAcked: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  // reader state
  private received = 0;
  private consumed = 0;
  private lastCredit = 0;
  private resumeAskedAt = -1;
  private resumeAskedTime = 0;
  private finalOffset: number | undefined;
  private readonly readQueue: Uint8Array[] = [];
  private readWaiter: { resolve: (c: Uint8Array | null) => void; reject: (e: unknown) => void } | undefined;
  // lifecycle
  private established = false;
  private failure: PlexusError | undefined;
  private finished = false;
  private lastPeerFrame = Date.now();
  private lastAckProgress = Date.now();
  private readonly lingerMs: number;
  private lastSentFrame = Date.now();
  private peerMissingSince: number | undefined;
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly offReconnect: () => void;
  private openWaiter: { resolve: () => void; reject: (e: unknown) => void } | undefined;
  private resolveClosed!: (err: PlexusError | undefined) => void;
  /** Settles when the stream is over: both directions done (undefined) or failed (the error). */
  readonly closed: Promise<PlexusError | undefined> = new Promise((r) => (this.resolveClosed = r));

  /** @internal */
  constructor(
    private readonly host: StreamHost,
    private readonly token: string,
    options: StreamOptions,
  ) {
    this.localSubject = host.newInbox(token);
    this.window = Math.max(1024, options.window ?? 2 * 1024 * 1024);
    this.chunkBytes = Math.max(256, Math.min(options.chunkBytes ?? 64 * 1024, host.maxPayload));
    this.peerTimeoutMs = options.peerTimeoutMs ?? 10_000;
    const keepaliveMs = options.keepaliveMs ?? 2000;
    this.lingerMs = Math.max(1000, 2 * keepaliveMs);
    host.addRoute(token, this);
    this.offReconnect = host.onReconnect(() => this.onReconnect());
    this.timer = setInterval(() => this.tick(keepaliveMs), Math.min(keepaliveMs, 1000));
    this.timer.unref?.();
  }

  /** Bytes this side has written (sent or queued). */
  /**
   * On an accepted stream: the opener's identity as the broker stamped it on the open
   * request (unforgeable). Empty on the opening side.
   */
  peerIdentity = '';

  get bytesWritten(): number {
    return this.queuedEnd;
  }

  /** Bytes this side has read. */
  get bytesRead(): number {
    return this.consumed;
  }

  // ---- opening -------------------------------------------------------------------

  /** @internal The opener's half of the handshake: wait for the acceptor's answer. */
  awaitAccept(): Promise<void> {
    return new Promise((resolve, reject) => (this.openWaiter = { resolve, reject }));
  }

  /** @internal The acceptor knows its peer from the open request. */
  acceptFrom(peerSubject: string, peerWindow: number, peerIdentity = ''): void {
    this.peerIdentity = peerIdentity;
    this.peerSubject = peerSubject;
    this.peerWindow = peerWindow;
    this.established = true;
  }

  /** @internal The open-request payload / accept payload. */
  handshakePayload(): Uint8Array {
    return utf8(JSON.stringify({ stream: 1, window: this.window, inbox: this.localSubject }));
  }

  // ---- writing -------------------------------------------------------------------

  /**
   * Write bytes. Resolves once they are inside the peer's credit window (sent), so
   * awaiting each write gives end-to-end backpressure.
   */
  write(chunk: Uint8Array | string): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.writeEnded) return Promise.reject(new PlexusError(ErrorCode.STREAM_RESET, 'write after end'));
    // One copy the stream owns: pieces stay queued for resend after write() resolves, and
    // are handed to the socket by reference, so the caller may reuse its buffer at once.
    const bytes = typeof chunk === 'string' ? utf8(chunk) : Uint8Array.prototype.slice.call(chunk);
    for (let o = 0; o < bytes.length; o += this.chunkBytes) {
      const piece = bytes.subarray(o, Math.min(bytes.length, o + this.chunkBytes));
      this.toSend.push({ bytes: piece, offset: this.queuedEnd });
      this.queuedEnd += piece.length;
    }
    const until = this.queuedEnd;
    this.pump();
    if (this.sent >= until) return Promise.resolve();
    return new Promise((resolve, reject) => this.writeWaiters.push({ until, resolve, reject }));
  }

  /**
   * Finish the write side (EOF for the reader). Resolves when the reader has consumed
   * every byte; rejects if the stream fails first.
   */
  end(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (!this.writeEnded) {
      this.writeEnded = true;
      this.pump();
    }
    if (this.endAckedByPeer()) return Promise.resolve();
    return new Promise((resolve, reject) => this.endAcked.push({ resolve, reject }));
  }

  private endSent = false;

  /** The reader acknowledged END: its credit counts END as one byte past the data. */
  private endAckedByPeer(): boolean {
    return this.endSent && this.peerConsumed > this.queuedEnd;
  }

  private pump(): void {
    if (!this.established || this.failure) return;
    while (this.toSend.length > 0) {
      const p = this.toSend[0]!;
      if (p.offset + p.bytes.length - this.peerConsumed > this.peerWindow) break;
      this.toSend.shift();
      this.unacked.push(p);
      this.sendData(p);
      this.sent = p.offset + p.bytes.length;
    }
    while (this.writeWaiters.length > 0 && this.writeWaiters[0]!.until <= this.sent) this.writeWaiters.shift()!.resolve();
    if (this.writeEnded && this.toSend.length === 0 && !this.endSent) {
      this.endSent = true;
      this.sendEnd();
    }
  }

  private sendData(p: Pending): void {
    this.send({ type: FrameType.DATA, subject: this.peerSubject, aux: p.offset % U32, payload: p.bytes, payloadImmutable: true });
  }

  private sendEnd(): void {
    this.send({ type: FrameType.END, subject: this.peerSubject, aux: this.queuedEnd % U32 });
  }

  private sendCredit(resume: boolean): void {
    this.lastCredit = this.consumed;
    // Once EOF has been read, the credit is one past the data: it acknowledges END.
    const eofRead = this.finalOffset !== undefined && this.consumed >= this.finalOffset;
    this.send({
      type: FrameType.CREDIT,
      flags: resume ? Flag.RESUME : 0,
      subject: this.peerSubject,
      aux: (resume ? this.received : this.consumed + (eofRead ? 1 : 0)) % U32,
    });
  }

  private send(init: FrameInit): void {
    if (this.peerSubject === '') return;
    this.lastSentFrame = Date.now();
    try {
      this.host.sendFrame(init, 'skip'); // lost frames are resent after reconnect
    } catch (err) {
      this.fail(err instanceof PlexusError ? err : new PlexusError(ErrorCode.CONNECTION_CLOSED, String(err)));
    }
  }

  // ---- reading -------------------------------------------------------------------

  /** Next chunk, or null at EOF. Reading grants the writer more credit. */
  read(): Promise<Uint8Array | null> {
    const chunk = this.readQueue.shift();
    if (chunk) {
      this.consumeBytes(chunk.length);
      return Promise.resolve(chunk);
    }
    if (this.failure) return Promise.reject(this.failure);
    if (this.atEof()) return Promise.resolve(null);
    if (this.readWaiter) return Promise.reject(new PlexusError(ErrorCode.INVALID_ARGUMENT, 'one reader at a time'));
    return new Promise((resolve, reject) => (this.readWaiter = { resolve, reject }));
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      const chunk = await this.read();
      if (chunk === null) return;
      yield chunk;
    }
  }

  /** Read everything until EOF into one byte array. */
  async readAll(): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    for await (const c of this) parts.push(c);
    return concatBytes(parts);
  }

  private atEof(): boolean {
    return this.finalOffset !== undefined && this.received >= this.finalOffset && this.readQueue.length === 0;
  }

  private consumeBytes(n: number): void {
    this.consumed += n;
    if (this.consumed - this.lastCredit >= this.window / 4 || (this.finalOffset !== undefined && this.consumed >= this.finalOffset)) {
      this.sendCredit(false);
    }
    this.maybeFinish();
  }

  // ---- inbound frames ------------------------------------------------------------

  /** @internal */
  onFrame(f: Frame): void {
    if (this.finished) {
      // Lingering after a clean finish: the writer may not have our final credit yet.
      if (this.failure === undefined && (f.type === FrameType.END || f.type === FrameType.DATA)) this.sendCredit(false);
      return;
    }
    this.lastPeerFrame = Date.now();
    this.peerMissingSince = undefined;
    switch (f.type) {
      case FrameType.MSG:
        return this.onAccept(f);
      case FrameType.DATA:
        return this.onData(f);
      case FrameType.CREDIT:
        return this.onCredit(f);
      case FrameType.END:
        this.finalOffset = unwrapOffset(f.aux, this.received);
        if (this.consumed >= this.finalOffset) this.sendCredit(false); // acknowledge END
        this.wakeReader();
        this.maybeFinish();
        return;
      case FrameType.CANCEL:
        this.fail(new PlexusError(ErrorCode.STREAM_RESET, `peer reset the stream: ${fromUtf8(f.payload) || 'no reason'}`), false);
        return;
      default:
    }
  }

  /** @internal */
  onError(err: PlexusError): void {
    if (err.code === ErrorCode.NO_RESPONDERS && this.established) {
      // The peer's inbox is gone for now (it may be reconnecting): give it peerTimeoutMs.
      this.peerMissingSince ??= Date.now();
      return;
    }
    this.fail(err, false);
  }

  private onAccept(f: Frame): void {
    if (this.established || !this.openWaiter) return;
    if ((f.flags & Flag.ERROR) !== 0) {
      let wire: unknown;
      try {
        wire = JSON.parse(fromUtf8(f.payload));
      } catch {
        wire = undefined;
      }
      this.fail(PlexusError.fromWire(wire), false);
      return;
    }
    let accept: { inbox?: unknown; window?: unknown };
    try {
      accept = JSON.parse(fromUtf8(f.payload)) as typeof accept;
    } catch {
      accept = {};
    }
    if (typeof accept.inbox !== 'string' || typeof accept.window !== 'number' || accept.window <= 0) {
      this.fail(new PlexusError(ErrorCode.PROTOCOL, 'malformed stream accept'), false);
      return;
    }
    this.acceptFrom(accept.inbox, accept.window);
    const w = this.openWaiter;
    this.openWaiter = undefined;
    w.resolve();
    this.pump();
  }

  private onData(f: Frame): void {
    const offset = unwrapOffset(f.aux, this.received);
    let payload = f.payload;
    if (offset > this.received) {
      // A gap: frames were lost (a drop policy or a reconnect). Ask for a resend, once
      // per gap rather than once per frame that arrives behind it.
      const now = Date.now();
      if (this.resumeAskedAt !== this.received || now - this.resumeAskedTime > 200) {
        this.resumeAskedAt = this.received;
        this.resumeAskedTime = now;
        this.sendCredit(true);
      }
      return;
    }
    if (offset < this.received) {
      const skip = this.received - offset;
      if (skip >= payload.length) return; // all duplicate
      payload = payload.subarray(skip);
    }
    if (this.received + payload.length - this.consumed > this.window + this.chunkBytes) {
      this.fail(new PlexusError(ErrorCode.PROTOCOL, 'peer exceeded the credit window'));
      return;
    }
    this.received += payload.length;
    if (this.readWaiter) {
      const w = this.readWaiter;
      this.readWaiter = undefined;
      this.consumeBytes(payload.length);
      w.resolve(payload);
    } else this.readQueue.push(payload);
  }

  private onCredit(f: Frame): void {
    if (!this.established) return;
    const offset = unwrapOffset(f.aux, this.peerConsumed);
    if ((f.flags & Flag.RESUME) !== 0) {
      // The reader has `offset` bytes: resend everything after it that is in flight.
      for (const p of this.unacked) if (p.offset + p.bytes.length > offset) this.sendData(p);
      if (this.endSent) this.sendEnd();
      return;
    }
    if (offset > this.peerConsumed) {
      this.peerConsumed = offset;
      this.lastAckProgress = Date.now();
    }
    while (this.unacked.length > 0 && this.unacked[0]!.offset + this.unacked[0]!.bytes.length <= this.peerConsumed) this.unacked.shift();
    this.pump();
    if (this.endAckedByPeer()) {
      for (const w of this.endAcked) w.resolve();
      this.endAcked = [];
    }
    this.maybeFinish();
  }

  private wakeReader(): void {
    if (!this.readWaiter) return;
    if (this.readQueue.length > 0) {
      const chunk = this.readQueue.shift()!;
      const w = this.readWaiter;
      this.readWaiter = undefined;
      this.consumeBytes(chunk.length);
      w.resolve(chunk);
    } else if (this.atEof()) {
      const w = this.readWaiter;
      this.readWaiter = undefined;
      w.resolve(null);
    }
  }

  // ---- liveness, resume, teardown ------------------------------------------------

  private onReconnect(): void {
    if (!this.established || this.finished) return;
    // Ask the peer to resend what we lost, and resend what the peer may have lost.
    this.sendCredit(true);
    for (const p of this.unacked) this.sendData(p);
    if (this.endSent) this.sendEnd();
  }

  private tick(keepaliveMs: number): void {
    if (this.finished) return;
    const now = Date.now();
    if (this.peerMissingSince !== undefined && now - this.peerMissingSince > this.peerTimeoutMs) {
      this.fail(new PlexusError(ErrorCode.STREAM_PEER_GONE, `stream peer unreachable for ${now - this.peerMissingSince} ms`));
      return;
    }
    if (this.established && now - this.lastPeerFrame > this.peerTimeoutMs + 2 * keepaliveMs) {
      this.fail(new PlexusError(ErrorCode.STREAM_PEER_GONE, `no word from the stream peer for ${now - this.lastPeerFrame} ms`));
      return;
    }
    // Retransmit what the peer has not acknowledged for a while (a frame can be lost
    // without a reconnect, e.g. under the broker's drop policy); duplicates are discarded.
    if (this.established && (this.unacked.length > 0 || (this.endSent && !this.endAckedByPeer())) && now - this.lastAckProgress > keepaliveMs) {
      this.lastAckProgress = now;
      for (const p of this.unacked) this.sendData(p);
      if (this.endSent) this.sendEnd();
    }
    if (this.established && now - this.lastSentFrame >= keepaliveMs) this.sendCredit(false);
  }

  /** Abort the stream on both sides. */
  reset(reason = 'reset'): void {
    if (this.finished) return;
    this.send({ type: FrameType.CANCEL, subject: this.peerSubject, payload: utf8(reason) });
    this.fail(new PlexusError(ErrorCode.STREAM_RESET, `stream reset: ${reason}`), false);
  }

  private maybeFinish(): void {
    const writeDone = this.endAckedByPeer();
    const readDone = this.finalOffset !== undefined && this.consumed >= this.finalOffset;
    if (writeDone && readDone) this.teardown(undefined);
  }

  /** @internal */
  fail(err: PlexusError, tellPeer = true): void {
    if (this.finished) return;
    if (tellPeer && this.peerSubject !== '') {
      this.send({ type: FrameType.CANCEL, subject: this.peerSubject, payload: utf8(err.message) });
    }
    this.failure = err;
    this.openWaiter?.reject(err);
    this.openWaiter = undefined;
    for (const w of this.writeWaiters.splice(0)) w.reject(err);
    for (const w of this.endAcked.splice(0)) w.reject(err);
    const r = this.readWaiter;
    this.readWaiter = undefined;
    r?.reject(err);
    this.teardown(err);
  }

  private teardown(err: PlexusError | undefined): void {
    if (this.finished) return;
    this.finished = true;
    clearInterval(this.timer);
    this.offReconnect();
    // Linger so a peer that missed our final credit can still get it (see onFrame).
    setTimeout(() => this.host.removeRoute(this.token), err ? 1000 : this.lingerMs).unref?.();
    this.resolveClosed(err);
  }

  // ---- adapters ------------------------------------------------------------------

  /**
   * A Node `Duplex` over this stream (backpressure and EOF carried through). Node only:
   * the adapter comes from stream-node.ts, which the Node entry loads and the browser
   * build leaves out (there it throws PLEXUS_ERR_INVALID_ARGUMENT).
   */
  toDuplex(): Duplex {
    if (!duplexAdapter) throw new PlexusError(ErrorCode.INVALID_ARGUMENT, 'toDuplex() needs Node streams; use toWeb() here');
    return duplexAdapter(this);
  }

  /** Web streams over this stream. */
  toWeb(): { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> } {
    const readable = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        const chunk = await this.read();
        if (chunk === null) controller.close();
        else controller.enqueue(chunk);
      },
      cancel: (reason) => this.reset(String(reason ?? 'cancelled')),
    });
    const writable = new WritableStream<Uint8Array>({
      write: (chunk) => this.write(chunk),
      close: () => this.end(),
      abort: (reason) => this.reset(String(reason ?? 'aborted')),
    });
    return { readable, writable };
  }
}
