/**
 * A table of who holds how many shares of a primitive (a semaphore's permits), right
 * after the primitive in shared memory, so that a process that dies holding some can be
 * found and its shares given back. Each slot is 24 bytes: the holder's token
 * (pid << 8 | thread id, see owner.ts), its share count, its pid namespace, and at byte 16
 * its process start time (so a reused pid is not mistaken for the dead process).
 *
 * A slot's token is 0 when free and {@link BUSY} while being claimed or reclaimed: the
 * identity fields are written before the token is published, so a scan never judges a
 * holder by a previous holder's start time.
 */
import { ErrorCode, plexusError } from '../../errors/index.js';
import { isProcessAlive, ownPidNamespace, ownStartTime } from '../liveness.js';
import { OWN_PID, ownToken } from './owner.js';

/** Bytes per holder slot. */
export const HOLDER_SLOT_BYTES = 24;
/** Most slots a table may have. */
export const MAX_HOLDER_SLOTS = 1024;
const BUSY = -1;
const SLOT_WORDS = HOLDER_SLOT_BYTES / 4;

/** A dead holder whose shares were given back. */
export interface ReclaimedShares {
  readonly pid: number;
  readonly threadId: number;
  readonly shares: number;
}

/** The holder table at `byteOffset` with `slots` slots (created zeroed, i.e. all free). */
export class HolderTable {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;

  constructor(
    buffer: SharedArrayBuffer,
    byteOffset: number,
    readonly slots: number,
    what: string,
  ) {
    if (byteOffset + slots * HOLDER_SLOT_BYTES > buffer.byteLength) {
      throw plexusError(ErrorCode.INVALID_ARGUMENT, `${what} with ${slots} holder slots needs ${slots * HOLDER_SLOT_BYTES} more bytes at ${byteOffset}, the buffer has ${buffer.byteLength}`);
    }
    this.i32 = new Int32Array(buffer, byteOffset, slots * SLOT_WORDS);
    this.f64 = new Float64Array(buffer, byteOffset, (slots * HOLDER_SLOT_BYTES) / 8);
  }

  /** Zeroes every slot (at creation). */
  clear(): void {
    for (let i = 0; i < this.i32.length; i++) Atomics.store(this.i32, i, 0);
  }

  /** This thread's slot index, or -1. */
  private own(token: number): number {
    for (let s = 0; s < this.slots; s++) if (Atomics.load(this.i32, s * SLOT_WORDS) === token) return s;
    return -1;
  }

  /** Records `n` more shares held by this thread; false when every slot is taken by others. */
  add(n: number): boolean {
    const token = ownToken();
    const mine = this.own(token);
    if (mine >= 0) {
      Atomics.add(this.i32, mine * SLOT_WORDS + 1, n);
      return true;
    }
    for (let s = 0; s < this.slots; s++) {
      const w = s * SLOT_WORDS;
      if (Atomics.compareExchange(this.i32, w, 0, BUSY) !== 0) continue;
      Atomics.store(this.i32, w + 1, n);
      Atomics.store(this.i32, w + 2, ownPidNamespace() | 0);
      this.f64[s * 3 + 2] = ownStartTime();
      Atomics.store(this.i32, w, token);
      return true;
    }
    return false;
  }

  /** Shares this thread holds. */
  held(): number {
    const mine = this.own(ownToken());
    return mine < 0 ? 0 : Atomics.load(this.i32, mine * SLOT_WORDS + 1);
  }

  /** Forgets `n` shares of this thread (the caller checked {@link held}); frees the slot at 0. */
  remove(n: number): void {
    const mine = this.own(ownToken());
    if (mine < 0) return;
    const w = mine * SLOT_WORDS;
    if (Atomics.sub(this.i32, w + 1, n) === n) Atomics.store(this.i32, w, 0);
  }

  /**
   * Frees the slots of processes that are gone and returns what they held. A holder in this
   * process, or in another pid namespace, is never judged dead (see OwnerRecord.holderDead).
   */
  reclaimDead(): ReclaimedShares[] {
    const out: ReclaimedShares[] = [];
    const ours = ownPidNamespace() >>> 0;
    for (let s = 0; s < this.slots; s++) {
      const w = s * SLOT_WORDS;
      const token = Atomics.load(this.i32, w);
      if (token === 0 || token === BUSY) continue;
      const pid = token >>> 8;
      if (pid === (OWN_PID & 0x3fffff)) continue;
      const ns = Atomics.load(this.i32, w + 2) >>> 0;
      if (ns !== 0 && ours !== 0 && ns !== ours) continue;
      if (isProcessAlive(pid, this.f64[s * 3 + 2]!)) continue;
      // Only one reclaimer wins the slot; the dead process cannot change it any more.
      if (Atomics.compareExchange(this.i32, w, token, BUSY) !== token) continue;
      const shares = Atomics.exchange(this.i32, w + 1, 0);
      Atomics.store(this.i32, w, 0);
      if (shares > 0) out.push(Object.freeze({ pid, threadId: token & 0xff, shares }));
    }
    return out;
  }
}
