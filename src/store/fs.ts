/**
 * The few file-system calls the log makes, behind an interface so tests can inject
 * faults (a disk that fills up, an fsync that fails) where a real small file system
 * cannot be mounted. Production code always uses {@link nodeStoreFs}.
 */
import fs from 'node:fs';

/** File-system operations used by the store. Paths are absolute; `fd`s are numbers. */
export interface StoreFs {
  /** Open a file. `flags` as in `fs.open` ('r', 'r+', 'wx+', ...). */
  open(path: string, flags: string): Promise<number>;
  close(fd: number): Promise<void>;
  /** Positional read; returns bytes read (0 at end of file). */
  read(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  /** Positional gathered write; returns bytes written (may be fewer than asked). */
  writev(fd: number, buffers: readonly Uint8Array[], position: number): Promise<number>;
  fdatasync(fd: number): Promise<void>;
  fsync(fd: number): Promise<void>;
  ftruncate(fd: number, length: number): Promise<void>;
  /** Size of an open file. */
  fsize(fd: number): Promise<number>;
  readdir(dir: string): Promise<string[]>;
  mkdir(dir: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Whole-file read, or undefined if the file does not exist. */
  readFile(path: string): Promise<Buffer | undefined>;
  /** Make a directory's entries (creates, renames, unlinks) durable. */
  syncDir(dir: string): Promise<void>;
}

function cb<T>(fn: (done: (err: NodeJS.ErrnoException | null, v: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));
}

/** The real file system (callback API on raw fds: the store manages fd lifetimes itself). */
export const nodeStoreFs: StoreFs = Object.freeze({
  open: (path: string, flags: string) => cb<number>((d) => fs.open(path, flags, 0o644, d)),
  close: (fd: number) => cb<void>((d) => fs.close(fd, (e) => d(e, undefined))),
  read: (fd: number, buffer: Uint8Array, offset: number, length: number, position: number) =>
    cb<number>((d) => fs.read(fd, buffer, offset, length, position, (e, n) => d(e, n))),
  writev: (fd: number, buffers: readonly Uint8Array[], position: number) =>
    cb<number>((d) => fs.writev(fd, buffers as Uint8Array[], position, (e, n) => d(e, n))),
  fdatasync: (fd: number) => cb<void>((d) => fs.fdatasync(fd, (e) => d(e, undefined))),
  fsync: (fd: number) => cb<void>((d) => fs.fsync(fd, (e) => d(e, undefined))),
  ftruncate: (fd: number, length: number) => cb<void>((d) => fs.ftruncate(fd, length, (e) => d(e, undefined))),
  fsize: (fd: number) => cb<number>((d) => fs.fstat(fd, (e, st) => d(e, st?.size ?? 0))),
  readdir: (dir: string) => fs.promises.readdir(dir),
  mkdir: async (dir: string) => {
    await fs.promises.mkdir(dir, { recursive: true });
  },
  rename: (from: string, to: string) => fs.promises.rename(from, to),
  unlink: (path: string) => fs.promises.unlink(path),
  readFile: async (path: string) => {
    try {
      return await fs.promises.readFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  },
  syncDir: async (dir: string) => {
    const fd = await cb<number>((d) => fs.open(dir, 'r', d));
    try {
      await cb<void>((d) => fs.fsync(fd, (e) => d(e, undefined)));
    } catch (err) {
      // Some file systems do not support fsync on a directory; that is not a failure of ours.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EISDIR') throw err;
    } finally {
      await cb<void>((d) => fs.close(fd, (e) => d(e, undefined)));
    }
  },
});

/** Write all of `buffers` at `position`, looping over short writes. Returns bytes written. */
export async function writeFully(sfs: StoreFs, fd: number, buffers: readonly Uint8Array[], position: number): Promise<number> {
  let total = 0;
  for (const b of buffers) total += b.length;
  let done = 0;
  let rest: readonly Uint8Array[] = buffers;
  while (done < total) {
    const n = await sfs.writev(fd, rest, position + done);
    if (n <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO', syscall: 'write' });
    done += n;
    if (done < total) rest = skipBytes(rest, n);
  }
  return done;
}

function skipBytes(buffers: readonly Uint8Array[], n: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let skip = n;
  for (const b of buffers) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    out.push(skip > 0 ? b.subarray(skip) : b);
    skip = 0;
  }
  return out;
}

/** Write a small file atomically: a temp file, fdatasync, rename over, then sync the directory. */
export async function writeFileAtomic(sfs: StoreFs, dir: string, path: string, data: Uint8Array, durable: boolean): Promise<void> {
  const tmp = `${path}.tmp`;
  const fd = await sfs.open(tmp, 'w');
  try {
    await writeFully(sfs, fd, [data], 0);
    if (durable) await sfs.fdatasync(fd);
  } finally {
    await sfs.close(fd);
  }
  await sfs.rename(tmp, path);
  if (durable) await sfs.syncDir(dir);
}

/** Read exactly `length` bytes at `position` (fewer only at end of file). */
export async function readAt(sfs: StoreFs, fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
  let done = 0;
  while (done < length) {
    const n = await sfs.read(fd, buffer, offset + done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}
