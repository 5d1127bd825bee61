/**
 * A named POSIX shared-memory segment, mapped into every process that opens it as one
 * SharedArrayBuffer (so `Atomics` work across processes), with a small header that lets
 * the processes sharing it notice when one of them dies.
 *
 * ```
 * 0    magic 'PXSG'   4 version   8 header bytes (512)   12 state (0 init, 1 ready, 2 closed)
 * 16   total bytes    24 created (ms since epoch, f64)
 * 32   8 participant slots of 32 bytes; slot 0 is the creator (owner):
 *        +0 pid  +4 pid-namespace inode  +8 start time (ticks since boot, f64)
 *        +16 heartbeat (ms since epoch, i64)  +24 heartbeat interval ms  +28 slot state
 * 512  data: `dataSize` bytes for the caller (rings, primitives, anything)
 * ```
 *
 * Creation is O_CREAT|O_EXCL with mode 0600, so nobody can pre-create a name to snoop on
 * it; opening refuses segments owned by another user or readable by group/others.
 */
import { ErrorCode, plexusError } from '../errors/index.js';
import { fromSystemError, loadShm, type LoadShmOptions, type ShmAddon } from './addon.js';
import { isProcessAlive, ownPidNamespace, ownStartTime } from './liveness.js';

/** 'PXSG' little-endian. */
export const SEGMENT_MAGIC = 0x47535850;
/** Header layout version; a segment with another version is refused. */
export const SEGMENT_VERSION = 1;
/** Bytes of the header; the caller's data starts here. */
export const SEGMENT_HEADER_BYTES = 512;
/** Largest data size a segment may be created with (1 GiB). */
export const MAX_SEGMENT_DATA_BYTES = 2 ** 30;
/** How many processes or threads can be attached at once (the creator included). */
export const SEGMENT_SLOTS = 8;

const PAGE = 4096;
const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$/;

// Int32 indexes of the header.
const I_MAGIC = 0;
const I_VERSION = 1;
const I_HEADER_BYTES = 2;
const I_STATE = 3;
const I_TOTAL = 4;
const SLOT_BASE = 32;
const SLOT_BYTES = 32;
// Int32 offsets inside a slot.
const S_PID = 0;
const S_PIDNS = 1;
const S_INTERVAL = 6;
const S_STATE = 7;

const STATE_READY = 1;
const STATE_CLOSED = 2;
const SLOT_FREE = 0;
const SLOT_CLAIMING = 1;
const SLOT_ACTIVE = 2;

/** Options shared by {@link SharedSegment.create} and {@link SharedSegment.open}. */
export interface SegmentOptions {
  /**
   * How often this side writes its heartbeat (an unref'ed timer). Peers in another pid
   * namespace judge liveness by it; 0 turns it off. @default 1000
   */
  readonly heartbeatMs?: number;
  /** A peer in another pid namespace is dead after this long without a heartbeat. @default max(5000, 5 × its heartbeat) */
  readonly staleAfterMs?: number;
  /** Where to load the addon from. */
  readonly addon?: LoadShmOptions;
}

/** Options for {@link SharedSegment.create}. */
export interface CreateSegmentOptions extends SegmentOptions {
  /** Data bytes wanted (the segment is rounded up to whole pages). 1 .. 1 GiB. */
  readonly size: number;
  /** If the name exists but its creator is dead, unlink it and create afresh. @default false */
  readonly reclaimStale?: boolean;
  /** Unlink the name when this process (or worker) exits without closing. @default true */
  readonly unlinkOnExit?: boolean;
}

/** Options for {@link SharedSegment.openAsync}. */
export interface OpenSegmentOptions extends SegmentOptions {
  /** Keep retrying while the name does not exist yet or is being set up. @default 5000 */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** One attached process or thread, as the header records it. */
export interface SegmentPeer {
  readonly slot: number;
  readonly pid: number;
  readonly owner: boolean;
  /** This very attachment. */
  readonly self: boolean;
  readonly alive: boolean;
  /** Milliseconds since its last heartbeat (NaN when it sends none). */
  readonly heartbeatAgeMs: number;
}

function validateName(name: string): void {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw plexusError(ErrorCode.INVALID_ARGUMENT, `invalid segment name ${JSON.stringify(name)}: 1-200 characters of A-Z a-z 0-9 . _ -, not starting with . or -`);
  }
}

function checkHeartbeat(ms: number | undefined): number {
  const v = ms ?? 1000;
  if (!Number.isFinite(v) || v < 0) throw plexusError(ErrorCode.INVALID_ARGUMENT, `heartbeatMs must be >= 0, got ${v}`);
  return v;
}

/** Segments this thread created and must unlink if it exits without closing them. */
const ownedForExit = new Set<SharedSegment>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const seg of ownedForExit) seg.close();
  });
}

/** A named shared-memory segment mapped into this process. */
export class SharedSegment {
  /** The name given at creation (without the leading '/'). */
  readonly name: string;
  /** The whole mapping, header included. Share it with workers by postMessage. */
  readonly buffer: SharedArrayBuffer;
  /** Where the caller's data starts in {@link buffer}. */
  readonly dataOffset = SEGMENT_HEADER_BYTES;
  /** Bytes available to the caller from {@link dataOffset}. */
  readonly dataSize: number;
  /** Whether this attachment created the segment (and unlinks it on close). */
  readonly isOwner: boolean;
  /** This attachment's participant slot. */
  readonly slot: number;

  private readonly header: Int32Array;
  private readonly beats: BigInt64Array;
  private readonly starts: Float64Array;
  private readonly staleAfterMs: number | undefined;
  private readonly addon: ShmAddon;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private closedFlag = false;

  private constructor(name: string, buffer: SharedArrayBuffer, isOwner: boolean, addon: ShmAddon, options: SegmentOptions) {
    this.name = name;
    this.buffer = buffer;
    this.isOwner = isOwner;
    this.addon = addon;
    this.dataSize = buffer.byteLength - SEGMENT_HEADER_BYTES;
    this.header = new Int32Array(buffer, 0, SEGMENT_HEADER_BYTES / 4);
    this.beats = new BigInt64Array(buffer, 0, SEGMENT_HEADER_BYTES / 8);
    this.starts = new Float64Array(buffer, 0, SEGMENT_HEADER_BYTES / 8);
    this.staleAfterMs = options.staleAfterMs;
    const heartbeatMs = checkHeartbeat(options.heartbeatMs);
    this.slot = isOwner ? this.claimOwnerSlot(heartbeatMs) : this.claimSlot(heartbeatMs);
    if (heartbeatMs > 0) {
      this.heartbeat = setInterval(() => this.beat(), heartbeatMs);
      this.heartbeat.unref();
    }
  }

  /**
   * Creates the segment `name` with `size` data bytes, mode 0600.
   * @throws PlexusError `PLEXUS_ERR_SHM_FAILED` (`details.code` `EEXIST` when the name is taken),
   *   `PLEXUS_ERR_SHM_UNAVAILABLE` without the addon, `PLEXUS_ERR_INVALID_ARGUMENT`.
   */
  static create(name: string, options: CreateSegmentOptions): SharedSegment {
    validateName(name);
    const size = options.size;
    if (!Number.isInteger(size) || size < 1 || size > MAX_SEGMENT_DATA_BYTES) {
      throw plexusError(ErrorCode.INVALID_ARGUMENT, `segment size must be an integer from 1 to ${MAX_SEGMENT_DATA_BYTES}, got ${size}`);
    }
    checkHeartbeat(options.heartbeatMs); // before anything exists that would need cleaning up
    const addon = loadShm(options.addon);
    const total = Math.ceil((SEGMENT_HEADER_BYTES + size) / PAGE) * PAGE;
    let buffer: SharedArrayBuffer;
    try {
      buffer = addon.create(name, total);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && options.reclaimStale === true && SharedSegment.reclaim(name, options)) {
        return SharedSegment.create(name, { ...options, reclaimStale: false });
      }
      throw fromSystemError(err, `cannot create shared segment ${name}`, { name });
    }
    const h = new Int32Array(buffer, 0, SEGMENT_HEADER_BYTES / 4);
    h[I_VERSION] = SEGMENT_VERSION;
    h[I_HEADER_BYTES] = SEGMENT_HEADER_BYTES;
    h[I_TOTAL] = total;
    new Float64Array(buffer, 0, 4)[3] = Date.now();
    const seg = new SharedSegment(name, buffer, true, addon, options);
    Atomics.store(h, I_MAGIC, SEGMENT_MAGIC);
    Atomics.store(h, I_STATE, STATE_READY);
    if (options.unlinkOnExit ?? true) {
      ownedForExit.add(seg);
      installExitHook();
    }
    return seg;
  }

  /**
   * Opens an existing, ready segment.
   * @throws PlexusError `PLEXUS_ERR_SHM_FAILED` (`ENOENT` when it does not exist, `EAGAIN`
   *   while its creator is still setting it up, `EACCES` when it is not ours),
   *   `PLEXUS_ERR_SHM_INCOMPATIBLE` when it is not a Plexus segment of this version.
   */
  static open(name: string, options: SegmentOptions = {}): SharedSegment {
    validateName(name);
    const addon = loadShm(options.addon);
    let opened: ReturnType<ShmAddon['open']>;
    try {
      opened = addon.open(name);
    } catch (err) {
      throw fromSystemError(err, `cannot open shared segment ${name}`, { name });
    }
    const euid = process.geteuid?.();
    if ((euid !== undefined && opened.uid !== euid) || (opened.mode & 0o077) !== 0) {
      throw plexusError(ErrorCode.SHM_FAILED, `refusing shared segment ${name}: owned by uid ${opened.uid} with mode ${opened.mode.toString(8)} (want uid ${euid}, mode 600)`, {
        details: { code: 'EACCES', name, uid: opened.uid, mode: opened.mode },
      });
    }
    const buffer = opened.buffer;
    const bad = (why: string): Error => plexusError(ErrorCode.SHM_INCOMPATIBLE, `shared segment ${name} is not usable: ${why}`, { details: { name } });
    if (buffer.byteLength < SEGMENT_HEADER_BYTES + 1) throw bad(`only ${buffer.byteLength} bytes`);
    const h = new Int32Array(buffer, 0, SEGMENT_HEADER_BYTES / 4);
    const magic = Atomics.load(h, I_MAGIC);
    const state = Atomics.load(h, I_STATE);
    if (magic === 0 && state === 0) {
      throw plexusError(ErrorCode.SHM_FAILED, `shared segment ${name} is still being set up`, { details: { code: 'EAGAIN', name } });
    }
    if (magic !== SEGMENT_MAGIC) throw bad('no Plexus header (bad magic)');
    if (h[I_VERSION] !== SEGMENT_VERSION) throw bad(`header version ${h[I_VERSION]}, this code reads ${SEGMENT_VERSION}`);
    if (h[I_HEADER_BYTES] !== SEGMENT_HEADER_BYTES) throw bad(`header of ${h[I_HEADER_BYTES]} bytes`);
    if (h[I_TOTAL] !== buffer.byteLength) throw bad(`header says ${h[I_TOTAL]} bytes, the mapping has ${buffer.byteLength}`);
    if (state === 0) throw plexusError(ErrorCode.SHM_FAILED, `shared segment ${name} is still being set up`, { details: { code: 'EAGAIN', name } });
    return new SharedSegment(name, buffer, false, addon, options);
  }

  /**
   * {@link open}, retrying while the segment does not exist yet or is being set up (for a
   * process that starts before the one that creates it).
   */
  static async openAsync(name: string, options: OpenSegmentOptions = {}): Promise<SharedSegment> {
    const timeoutMs = options.timeoutMs ?? 5000;
    const deadline = performance.now() + timeoutMs;
    for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
      if (options.signal?.aborted) throw options.signal.reason;
      try {
        return SharedSegment.open(name, options);
      } catch (err) {
        const code = (err as { details?: { code?: string } }).details?.code;
        const retry = (err as { code?: string }).code === ErrorCode.SHM_FAILED && (code === 'ENOENT' || code === 'EAGAIN');
        if (!retry) throw err;
        if (performance.now() + delay > deadline) {
          throw plexusError(ErrorCode.TIMEOUT, `shared segment ${name} did not appear within ${timeoutMs} ms`, { cause: err });
        }
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  /** Removes the name (mappings stay valid until unmapped). False when it did not exist. */
  static unlink(name: string, options: { addon?: LoadShmOptions } = {}): boolean {
    validateName(name);
    try {
      return loadShm(options.addon).unlink(name);
    } catch (err) {
      throw fromSystemError(err, `cannot unlink shared segment ${name}`, { name });
    }
  }

  /**
   * Unlinks `name` if it is a Plexus segment whose creator died without closing it. Names
   * that are not Plexus segments, or whose creator is alive, are left alone. True when it
   * was removed.
   */
  static reclaim(name: string, options: SegmentOptions = {}): boolean {
    let probe: SharedSegment;
    try {
      probe = SharedSegment.open(name, { ...options, heartbeatMs: 0 });
    } catch {
      return false;
    }
    try {
      const owner = probe.peers().find((p) => p.owner);
      if (owner !== undefined && owner.alive) return false;
      if (owner === undefined && probe.state() !== STATE_CLOSED) return false;
      return SharedSegment.unlink(name, options);
    } finally {
      probe.close();
    }
  }

  /** The caller's data area as bytes. */
  get data(): Uint8Array {
    return new Uint8Array(this.buffer, SEGMENT_HEADER_BYTES, this.dataSize);
  }

  /** Whether {@link close} was called on this attachment. */
  get closed(): boolean {
    return this.closedFlag;
  }

  /** Whether the creator closed the segment (cleanly). */
  get ownerClosed(): boolean {
    return this.state() === STATE_CLOSED;
  }

  private state(): number {
    return Atomics.load(this.header, I_STATE);
  }

  private slotIndex(slot: number, field: number): number {
    return (SLOT_BASE + slot * SLOT_BYTES) / 4 + field;
  }

  private fillSlot(slot: number, heartbeatMs: number): void {
    const h = this.header;
    h[this.slotIndex(slot, S_PID)] = process.pid;
    h[this.slotIndex(slot, S_PIDNS)] = ownPidNamespace() | 0;
    this.starts[(SLOT_BASE + slot * SLOT_BYTES) / 8 + 1] = ownStartTime();
    Atomics.store(this.beats, (SLOT_BASE + slot * SLOT_BYTES) / 8 + 2, BigInt(Date.now()));
    h[this.slotIndex(slot, S_INTERVAL)] = heartbeatMs;
    Atomics.store(h, this.slotIndex(slot, S_STATE), SLOT_ACTIVE);
  }

  private claimOwnerSlot(heartbeatMs: number): number {
    Atomics.store(this.header, this.slotIndex(0, S_STATE), SLOT_CLAIMING);
    this.fillSlot(0, heartbeatMs);
    return 0;
  }

  private claimSlot(heartbeatMs: number): number {
    const h = this.header;
    for (let slot = 1; slot < SEGMENT_SLOTS; slot++) {
      const si = this.slotIndex(slot, S_STATE);
      const st = Atomics.load(h, si);
      if (st === SLOT_FREE && Atomics.compareExchange(h, si, SLOT_FREE, SLOT_CLAIMING) === SLOT_FREE) {
        this.fillSlot(slot, heartbeatMs);
        return slot;
      }
      // A slot left behind by a dead process can be taken over.
      if (st === SLOT_ACTIVE && !this.peerAlive(slot) && Atomics.compareExchange(h, si, SLOT_ACTIVE, SLOT_CLAIMING) === SLOT_ACTIVE) {
        this.fillSlot(slot, heartbeatMs);
        return slot;
      }
    }
    throw plexusError(ErrorCode.SHM_FAILED, `shared segment ${this.name} has no free slot (${SEGMENT_SLOTS - 1} attached already)`, {
      details: { code: 'EBUSY', name: this.name },
    });
  }

  private beat(): void {
    if (this.closedFlag) return;
    Atomics.store(this.beats, (SLOT_BASE + this.slot * SLOT_BYTES) / 8 + 2, BigInt(Date.now()));
  }

  private heartbeatAge(slot: number): number {
    if (this.header[this.slotIndex(slot, S_INTERVAL)] === 0) return NaN;
    return Date.now() - Number(Atomics.load(this.beats, (SLOT_BASE + slot * SLOT_BYTES) / 8 + 2));
  }

  private peerAlive(slot: number): boolean {
    const h = this.header;
    const pid = h[this.slotIndex(slot, S_PID)]!;
    const pidns = h[this.slotIndex(slot, S_PIDNS)]! >>> 0;
    const ours = ownPidNamespace() >>> 0;
    if (pid === process.pid && pidns === ours) return true;
    if (pidns !== 0 && ours !== 0 && pidns === ours) {
      return isProcessAlive(pid, this.starts[(SLOT_BASE + slot * SLOT_BYTES) / 8 + 1]!);
    }
    // Another pid namespace: only the heartbeat can tell.
    const interval = h[this.slotIndex(slot, S_INTERVAL)]!;
    if (interval === 0) return true;
    const staleAfter = this.staleAfterMs ?? Math.max(5000, 5 * interval);
    return this.heartbeatAge(slot) <= staleAfter;
  }

  /** Everyone attached right now, as recorded in the header. */
  peers(): SegmentPeer[] {
    const out: SegmentPeer[] = [];
    for (let slot = 0; slot < SEGMENT_SLOTS; slot++) {
      if (Atomics.load(this.header, this.slotIndex(slot, S_STATE)) !== SLOT_ACTIVE) continue;
      out.push({
        slot,
        pid: this.header[this.slotIndex(slot, S_PID)]!,
        owner: slot === 0,
        self: slot === this.slot && !this.closedFlag,
        alive: this.peerAlive(slot),
        heartbeatAgeMs: this.heartbeatAge(slot),
      });
    }
    return out;
  }

  /**
   * Throws `PLEXUS_ERR_PEER_DIED` when any other attached process has died without
   * detaching (crashed, or killed). Cheap enough to call from every idle wake-up.
   */
  checkPeers(): void {
    for (let slot = 0; slot < SEGMENT_SLOTS; slot++) {
      if (slot === this.slot) continue;
      if (Atomics.load(this.header, this.slotIndex(slot, S_STATE)) !== SLOT_ACTIVE) continue;
      if (this.peerAlive(slot)) continue;
      const pid = this.header[this.slotIndex(slot, S_PID)]!;
      const who = slot === 0 ? 'the creator' : 'a peer';
      throw plexusError(ErrorCode.PEER_DIED, `${who} of shared segment ${this.name} (pid ${pid}) died without detaching`, {
        details: { name: this.name, slot, pid, owner: slot === 0 },
      });
    }
  }

  /**
   * Detaches: frees this slot and stops the heartbeat; the creator also marks the segment
   * closed and unlinks its name. The memory stays mapped until the buffer is garbage
   * collected (unmapping under live views would crash), so do not use it after close.
   * Idempotent.
   */
  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    ownedForExit.delete(this);
    const si = this.slotIndex(this.slot, S_STATE);
    // Only free our own claim (a dead slot may have been taken over since).
    if (this.header[this.slotIndex(this.slot, S_PID)] === process.pid) Atomics.store(this.header, si, SLOT_FREE);
    if (this.isOwner) {
      Atomics.store(this.header, I_STATE, STATE_CLOSED);
      try {
        this.addon.unlink(this.name);
      } catch {
        // Already gone or not ours any more: nothing left to clean up.
      }
    }
  }
}
