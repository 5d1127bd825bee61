/**
 * A reusable barrier for `parties` threads or processes, in 64 bytes of a
 * SharedArrayBuffer. Word 4 packs the generation (high 16 bits) and how many have arrived
 * in it (low 16 bits), so arriving, releasing and withdrawing are each one
 * compare-and-swap. The last to arrive starts the next generation and wakes everyone.
 */
import { ErrorCode, plexusError } from '../../errors/index.js';
import { checkRegion, initRegion, regionView, SyncCore, SyncKind, W_STATE, type SyncAttachOptions, type SyncCreateOptions, type SyncWaitOptions } from './common.js';

const W_WORD = W_STATE;
const W_PARTIES = W_STATE + 1;

/** What {@link Barrier.wait} returns. */
export interface BarrierResult {
  /** The generation that was released (counts up, modulo 2^16). */
  readonly generation: number;
  /** True for exactly one party of each generation: the last to arrive. */
  readonly serial: boolean;
}

/** Options for {@link Barrier.create}. */
export interface BarrierCreateOptions extends SyncCreateOptions {
  /** How many must arrive before all go on (2 .. 65535). */
  readonly parties: number;
}

/** A reusable (cyclic) barrier over shared memory. */
export class Barrier {
  /** Bytes a barrier occupies. */
  static readonly BYTES = 64;
  private readonly core: SyncCore;
  private readonly i32: Int32Array;

  private constructor(buffer: SharedArrayBuffer, byteOffset: number, create: BarrierCreateOptions | undefined, options: SyncAttachOptions) {
    const i32 = regionView(buffer, byteOffset, 'Barrier');
    if (create !== undefined) {
      const p = create.parties;
      if (!Number.isInteger(p) || p < 1 || p > 0xffff) throw plexusError(ErrorCode.INVALID_ARGUMENT, `parties must be an integer from 1 to 65535, got ${p}`);
      initRegion(i32, SyncKind.BARRIER, create, 'Barrier');
      Atomics.store(i32, W_PARTIES, p);
    }
    this.core = new SyncCore(i32, checkRegion(i32, SyncKind.BARRIER, 'Barrier'), options);
    this.i32 = i32;
  }

  /** Initialises a barrier at `byteOffset` (8-byte aligned, {@link Barrier.BYTES} long). */
  static create(buffer: SharedArrayBuffer, byteOffset: number, options: BarrierCreateOptions): Barrier {
    return new Barrier(buffer, byteOffset, options, options);
  }

  /** Uses a barrier created elsewhere at `byteOffset`. */
  static attach(buffer: SharedArrayBuffer, byteOffset = 0, options: SyncAttachOptions = {}): Barrier {
    return new Barrier(buffer, byteOffset, undefined, options);
  }

  /** How many parties the barrier waits for. */
  get parties(): number {
    return Atomics.load(this.i32, W_PARTIES);
  }

  /** The current generation (modulo 2^16). */
  get generation(): number {
    return Atomics.load(this.i32, W_WORD) >>> 16;
  }

  /**
   * Arrives and waits, without blocking the thread, until all parties have arrived.
   * A party that times out or is aborted withdraws its arrival (unless the generation was
   * released meanwhile, in which case it resolves).
   * @throws PlexusError `PLEXUS_ERR_TIMEOUT`; `signal.reason` when aborted.
   */
  async wait(opts?: SyncWaitOptions): Promise<BarrierResult> {
    if (opts?.signal?.aborted) throw opts.signal.reason;
    const arrived = this.arrive();
    if (arrived.serial) return arrived;
    const g = arrived.generation;
    try {
      return await this.core.waitFor(W_WORD, () => this.released(g), 'Barrier.wait', opts);
    } catch (err) {
      return this.withdraw(g, err);
    }
  }

  /** {@link wait}, blocking the calling thread (workers). */
  waitSync(timeoutMs?: number): BarrierResult {
    const arrived = this.arrive();
    if (arrived.serial) return arrived;
    const g = arrived.generation;
    try {
      return this.core.waitForSync(W_WORD, () => this.released(g), 'Barrier.waitSync', timeoutMs);
    } catch (err) {
      return this.withdraw(g, err);
    }
  }

  private arrive(): BarrierResult {
    const i32 = this.i32;
    const parties = Atomics.load(i32, W_PARTIES);
    for (;;) {
      const v = Atomics.load(i32, W_WORD);
      const g = v >>> 16;
      const n = (v & 0xffff) + 1;
      const last = n >= parties;
      const next = last ? ((g + 1) & 0xffff) << 16 : (g << 16) | n;
      if (Atomics.compareExchange(i32, W_WORD, v, next | 0) === v) {
        if (last) this.core.wakeWord(W_WORD);
        return { generation: g, serial: last };
      }
    }
  }

  private released(g: number): BarrierResult | undefined {
    return Atomics.load(this.i32, W_WORD) >>> 16 !== g ? { generation: g, serial: false } : undefined;
  }

  private withdraw(g: number, err: unknown): BarrierResult {
    const i32 = this.i32;
    for (;;) {
      const v = Atomics.load(i32, W_WORD);
      if (v >>> 16 !== g) return { generation: g, serial: false };
      if (Atomics.compareExchange(i32, W_WORD, v, v - 1) === v) throw err;
    }
  }
}
