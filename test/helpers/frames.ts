/**
 * Frame traffic for transport tests: a recording sink with bounded waits, a
 * deterministic mix of frames, and a byte-exact comparison.
 */
import assert from 'node:assert/strict';
import type { FramedTransport, TransportSink } from '../../src/transports/index.js';
import { FrameType, encodeHeaders, type Frame, type FrameInit } from '../../src/wire/index.js';
import { withTimeout } from './timeout.js';

/**
 * A sink that records every frame (as delivered: the views are kept, not copied, so a
 * later check also proves nobody reused their memory) and every close.
 */
export class FrameCollector implements TransportSink {
  readonly frames: Frame[] = [];
  closeCount = 0;
  closeError: Error | undefined;
  drainCount = 0;
  /** Called for each frame after it is recorded. */
  onEach: ((frame: Frame) => void) | undefined;
  private waiters: Array<{ n: number; resolve: () => void }> = [];
  private closedResolve!: (err: Error | undefined) => void;
  /** Settles with the close error (undefined for a clean close) on the first close. */
  readonly closed: Promise<Error | undefined> = new Promise((resolve) => {
    this.closedResolve = resolve;
  });

  onFrame(frame: Frame): void {
    this.frames.push(frame);
    this.onEach?.(frame);
    this.waiters = this.waiters.filter((w) => {
      if (this.frames.length < w.n) return true;
      w.resolve();
      return false;
    });
  }

  onClose(err?: Error): void {
    this.closeCount++;
    if (this.closeCount === 1) {
      this.closeError = err;
      this.closedResolve(err);
    }
  }

  onDrain(): void {
    this.drainCount++;
  }

  /** Wait until at least `n` frames have arrived. */
  waitForFrames(n: number, ms: number, what = `${n} frames`): Promise<void> {
    if (this.frames.length >= n) return Promise.resolve();
    const p = new Promise<void>((resolve) => this.waiters.push({ n, resolve }));
    return withTimeout(p, ms, `${what} (have ${this.frames.length})`);
  }

  /** Wait for the close; returns its error. */
  waitClosed(ms: number, what = 'close'): Promise<Error | undefined> {
    return withTimeout(this.closed, ms, what);
  }
}

/** Deterministic bytes for frame `index` of traffic `seed`. */
export function pattern(seed: number, index: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = (seed * 2654435761 + index * 40503 + 1) >>> 0;
  for (let j = 0; j < length; j++) {
    // xorshift32: cheap and never periodic over these lengths.
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[j] = x & 0xff;
  }
  return out;
}

/** Options for {@link trafficPlan}. */
export interface TrafficOptions {
  /** How many tiny frames. @default 5000 */
  readonly tiny?: number;
  /** Size of the large frames. @default 1 MiB */
  readonly bigBytes?: number;
}

/**
 * A mix of bulk-lane frames (so their order is preserved end to end): a 1 MiB PUB
 * first, thousands of tiny PUB/DATA frames, some medium frames with reply subjects and
 * headers, and another 1 MiB frame last. Every frame's `id` is its index.
 */
export function trafficPlan(seed: number, options: TrafficOptions = {}): FrameInit[] {
  const tiny = options.tiny ?? 5000;
  const big = options.bigBytes ?? 1024 * 1024;
  const plan: FrameInit[] = [];
  plan.push({ type: FrameType.PUB, id: 0, subject: 'bulk.big.first', payload: pattern(seed, 0, big) });
  for (let i = 0; i < tiny; i++) {
    const id = plan.length;
    if (i % 500 === 250) {
      plan.push({
        type: FrameType.MSG,
        id,
        aux: i,
        subject: `medium.${i}`,
        reply: `_INBOX.${seed}.${i}`,
        headers: encodeHeaders({ 'content-type': 'application/octet-stream', seq: String(i), 'ünï': 'cödé' }),
        payload: pattern(seed, id, 40_000 + i),
      });
    } else if (i % 3 === 0) {
      plan.push({ type: FrameType.DATA, id, aux: i * 7, payload: pattern(seed, id, i % 9) });
    } else {
      plan.push({ type: FrameType.PUB, id, subject: `t.${i % 11}`, payload: pattern(seed, id, i % 17) });
    }
  }
  plan.push({ type: FrameType.PUB, id: plan.length, subject: 'bulk.big.last', payload: pattern(seed, plan.length, big) });
  return plan;
}

/** Send every frame of `plan` on `transport`. */
export function sendAll(transport: FramedTransport, plan: readonly FrameInit[]): void {
  for (const f of plan) transport.send(f);
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  const x = a ?? new Uint8Array(0);
  const y = b ?? new Uint8Array(0);
  return x.length === y.length && Buffer.from(x.buffer, x.byteOffset, x.length).equals(Buffer.from(y.buffer, y.byteOffset, y.length));
}

/** Assert `got` is exactly `plan`, in order, byte for byte. */
export function assertFramesMatch(got: readonly Frame[], plan: readonly FrameInit[], label = 'frames'): void {
  assert.equal(got.length, plan.length, `${label}: frame count`);
  for (let i = 0; i < plan.length; i++) {
    const g = got[i]!;
    const p = plan[i]!;
    const where = `${label}[${i}]`;
    assert.equal(g.type, p.type, `${where}: type`);
    assert.equal(g.flags, p.flags ?? 0, `${where}: flags`);
    assert.equal(g.id, p.id ?? 0, `${where}: id`);
    assert.equal(g.aux, p.aux ?? 0, `${where}: aux`);
    assert.equal(g.subject, p.subject ?? '', `${where}: subject`);
    assert.equal(g.reply, p.reply ?? '', `${where}: reply`);
    assert.ok(sameBytes(g.headers, p.headers), `${where}: headers differ`);
    assert.ok(sameBytes(g.payload, p.payload), `${where}: payload differs (${g.payload.length} vs ${p.payload?.length ?? 0} bytes)`);
  }
}

/** A FrameInit with the same content as a received frame (for echoing it back). */
export function echoOf(frame: Frame): FrameInit {
  return {
    type: frame.type,
    flags: frame.flags,
    id: frame.id,
    aux: frame.aux,
    subject: frame.subject,
    reply: frame.reply,
    headers: frame.headers,
    payload: frame.payload,
  };
}
