/**
 * One writer per log directory: a `LOCK` file created exclusively, holding the owner's
 * pid. A lock whose pid is no longer alive (the owner crashed) is taken over.
 */
import { join } from 'node:path';
import { ErrorCode, plexusError } from '../errors/index.js';
import { FileNames } from './format.js';
import { writeFully, type StoreFs } from './fs.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Take the directory's lock; throws `PLEXUS_ERR_STORE_LOCKED` if a live process holds it. */
export async function acquireLock(sfs: StoreFs, dir: string): Promise<() => Promise<void>> {
  const path = join(dir, FileNames.lock);
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = await sfs.open(path, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let text = (await sfs.readFile(path))?.toString('utf8').trim() ?? '';
      if (text === '') {
        // Another opener may have created it and not yet written its pid.
        await new Promise((resolve) => setTimeout(resolve, 100));
        text = (await sfs.readFile(path))?.toString('utf8').trim() ?? '';
      }
      const pid = Number(text);
      if (Number.isSafeInteger(pid) && pid > 0 && alive(pid)) {
        throw plexusError(ErrorCode.STORE_LOCKED, `log directory is locked by process ${pid}`, { details: { pid } });
      }
      // Stale (its owner died) or unreadable: remove it and try once more.
      await sfs.unlink(path).catch(() => undefined);
      continue;
    }
    try {
      await writeFully(sfs, fd, [Buffer.from(`${process.pid}\n`)], 0);
    } finally {
      await sfs.close(fd);
    }
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      await sfs.unlink(path).catch(() => undefined);
    };
  }
  throw plexusError(ErrorCode.STORE_LOCKED, 'log directory lock is contended');
}
