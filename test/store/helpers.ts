/**
 * Helpers for store tests: temp directories removed when the test ends, logs closed
 * when the test ends, payload generators and a fault-injecting file-system layer.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { nodeStoreFs, openLog, type Log, type LogOptions, type StoreFs } from '../../src/store/index.js';

/** A fresh temp directory, removed after the test. */
export async function tempDir(t: TestContext, prefix = 'plexus-store-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Open a log that is closed after the test (if the test did not close it). */
export async function open(t: TestContext, dir: string, options: LogOptions = {}): Promise<Log> {
  const log = await openLog(dir, options);
  t.after(() => log.close().catch(() => undefined));
  return log;
}

/** Deterministic payload for record `n` of length `len`. */
export function payloadFor(n: number, len: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  let x = (n * 2654435761) >>> 0;
  for (let i = 0; i < len; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** An errno-style error like the ones node:fs raises. */
export function errnoError(code: string, syscall: string): NodeJS.ErrnoException {
  const errnos: Record<string, number> = { ENOSPC: -28, EIO: -5 };
  return Object.assign(new Error(`${code}: simulated, ${syscall}`), { code, errno: errnos[code] ?? -1, syscall });
}

/** Knobs of {@link faultyFs}. */
export interface Faults {
  /** Bytes the "disk" still accepts for segment writes before ENOSPC (Infinity: no limit). */
  space: number;
  /** Fail the next N fdatasync calls with EIO. */
  failSyncs: number;
  /** Fail creating files (new segments) with ENOSPC. */
  failCreate: boolean;
  /** Count of fdatasync calls. */
  syncs: number;
}

/**
 * The real file system with injectable faults: writes past `faults.space` bytes write
 * what fits and then fail with ENOSPC (like a filling disk); truncation gives space back.
 */
export function faultyFs(): { fs: StoreFs; faults: Faults } {
  const faults: Faults = { space: Infinity, failSyncs: 0, failCreate: false, syncs: 0 };
  const fs: StoreFs = {
    ...nodeStoreFs,
    async open(path, flags) {
      if (faults.failCreate && flags.startsWith('w')) throw errnoError('ENOSPC', 'open');
      return nodeStoreFs.open(path, flags);
    },
    async writev(fd, buffers, position) {
      let total = 0;
      for (const b of buffers) total += b.length;
      if (total <= faults.space) {
        const n = await nodeStoreFs.writev(fd, buffers, position);
        faults.space -= n;
        return n;
      }
      if (faults.space <= 0) throw errnoError('ENOSPC', 'write');
      // A short write of what fits; the caller's next write then fails.
      const fit: Uint8Array[] = [];
      let left = faults.space;
      for (const b of buffers) {
        if (left <= 0) break;
        fit.push(b.length <= left ? b : b.subarray(0, left));
        left -= Math.min(left, b.length);
      }
      const n = await nodeStoreFs.writev(fd, fit, position);
      faults.space -= n;
      return n;
    },
    async ftruncate(fd, length) {
      const before = await nodeStoreFs.fsize(fd);
      await nodeStoreFs.ftruncate(fd, length);
      if (length < before) faults.space += before - length;
    },
    async fdatasync(fd) {
      faults.syncs++;
      if (faults.failSyncs > 0) {
        faults.failSyncs--;
        throw errnoError('EIO', 'fdatasync');
      }
      return nodeStoreFs.fdatasync(fd);
    },
  };
  return { fs, faults };
}
