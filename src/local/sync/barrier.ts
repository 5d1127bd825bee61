/**
 * A reusable barrier for `parties` threads or processes, in 64 bytes of a
 * SharedArrayBuffer. Word 4 packs the generation (high 16 bits) and how many have arrived
 * in it (low 16 bits), so arriving, releasing and withdrawing are each one
 * compare-and-swap. The last to arrive starts the next generation and wakes everyone.
 *
 * Robust when created with `members: n`: a table of n holder slots after the barrier
 * (holders.ts, {@link Barrier.bytesFor}) records the threads taking part (each registers
 * with {@link Barrier.join} or its first wait). When a registered member's process dies,
 * the barrier is *broken*: a waiter notices after a sleep slice, and every current and
 * later `wait` fails with `PLEXUS_ERR_OWNER_DIED` (details: the dead pid) instead of
 * waiting for a party that will never come, until {@link Barrier.reset}.
 */
import { ErrorCode, plexusError } from '../../errors/index.js';
import { HOLDER_SLOT_BYTES, HolderTable, MAX_HOLDER_SLOTS } from './holders.js';
import { checkRegion, initRegion, regionView, SyncCore, SyncKind, W_STATE, type SyncAttachOptions, type SyncCreateOptions, type SyncWaitOptions } from './common.js';

const W_WORD = W_STATE;
const W_PARTIES = W_STATE + 1;
const W_MEMBER_SLOTS = W_STATE + 2;
/** Pid of the member whose death broke the barrier, 0 while intact. */
const W_BROKEN = W_STATE + 3;

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
  /**
   * Robust mode: slots for this many member threads, in
   * `Barrier.bytesFor(members) - Barrier.BYTES` bytes right after the barrier. 0: not robust.
   * @default 0
   */
  readonly members?: number;
}

/** A reusable (cyclic) barrier over shared memory. */
export class Barrier {
  /** Bytes a barrier occupies. */
  static readonly BYTES = 64;
  private readonly core: SyncCore;
  private readonly i32: Int32Array;
  private readonly members: HolderTable | undefined;

  /** Bytes a barrier with `members` member slots occupies (robust mode). */
  static bytesFor(members = 0): number {
    return Barrier.BYTES + members * HOLDER_SLOT_BYTES;
  }

  private constructor(buffer: SharedArrayBuffer, byteOffset: number, create: BarrierCreateOptions | undefined, options: SyncAttachOptions) {
    const i32 = regionView(buffer, byteOffset, 'Barrier');
    if (create !== undefined) {
      const p = create.parties;
      if (!Number.isInteger(p) || p < 1 || p > 0xffff) throw plexusError(ErrorCode.INVALID_ARGUMENT, `parties must be an integer from 1 to 65535, got ${p}`);
      const slots = create.members ?? 0;
      if (!Number.isInteger(slots) || slots < 0 || slots > MAX_HOLDER_SLOTS) throw plexusError(ErrorCode.INVALID_ARGUMENT, `members must be an integer from 0 to ${MAX_HOLDER_SLOTS}, got ${slots}`);
      if (slots > 0) new HolderTable(buffer, byteOffset + Barrier.BYTES, slots, 'Barrier').clear();
      initRegion(i32, SyncKind.BARRIER, create, 'Barrier');
      Atomics.store(i32, W_MEMBER_SLOTS, slots);
      Atomics.store(i32, W_PARTIES, p);
    }
    this.core = new SyncCore(i32, checkRegion(i32, SyncKind.BARRIER, 'Barrier'), options);
    this.i32 = i32;
    const slots = Atomics.load(i32, W_MEMBER_SLOTS);
    this.members = slots > 0 ? new HolderTable(buffer, byteOffset + Barrier.BYTES, slots, 'Barrier') : undefined;
  }

  /** True when created with member slots (see the class comment). */
  get robust(): boolean {
    return this.members !== undefined;
  }

  /** Pid of the member whose death broke the barrier; 0 while it is intact. */
  get brokenBy(): number {
    return Atomics.load(this.i32, W_BROKEN);
  }

  /**
   * Robust mode: registers this thread as a member (once; `wait` does it too), so that its
   * death breaks the barrier even before its first arrival.
   * @throws PlexusError `PLEXUS_ERR_REGISTRY_LIMIT` when every member slot is taken.
   */
  join(): void {
    const m = this.members;
    if (m === undefined || m.held() > 0) return;
    if (!m.add(1)) throw plexusError(ErrorCode.REGISTRY_LIMIT, `Barrier: all ${m.slots} member slots are taken`, { details: { slots: m.slots } });
  }

  /** Robust mode: this thread takes part no more (a later death does not break the barrier). */
  leave(): void {
    const m = this.members;
    if (m !== undefined && m.held() > 0) m.remove(m.held());
  }

  /**
   * Repairs a broken barrier: forgets the dead member and any arrivals, and starts a new
   * generation. Call it once the parties agree (e.g. after replacing the dead one).
   */
  reset(): void {
    const g = Atomics.load(this.i32, W_WORD) >>> 16;
    Atomics.store(this.i32, W_WORD, ((g + 1) & 0xffff) << 16);
    Atomics.store(this.i32, W_BROKEN, 0);
    this.core.wakeWord(W_WORD);
  }

  /** Throws when the barrier is broken. */
  private checkBroken(): void {
    const pid = Atomics.load(this.i32, W_BROKEN);
    if (pid !== 0) throw plexusError(ErrorCode.OWNER_DIED, `the barrier is broken: member process ${pid} died`, { details: { pid } });
  }

  /** After a sleep slice (robust mode): a dead member breaks the barrier for everyone. */
  private checkMembers(): undefined {
    this.checkBroken();
    const dead = this.members!.reclaimDead();
    if (dead.length > 0) {
      Atomics.compareExchange(this.i32, W_BROKEN, 0, dead[0]!.pid);
      this.core.wakeWord(W_WORD);
      this.checkBroken();
    }
    return undefined;
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
      return await this.core.waitFor(W_WORD, () => this.released(g), 'Barrier.wait', opts, this.members && (() => this.checkMembers()));
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
      return this.core.waitForSync(W_WORD, () => this.released(g), 'Barrier.waitSync', timeoutMs, this.members && (() => this.checkMembers()));
    } catch (err) {
      return this.withdraw(g, err);
    }
  }

  private arrive(): BarrierResult {
    if (this.members) {
      this.checkBroken();
      this.join();
    }
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
    if (this.members) this.checkBroken();
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
