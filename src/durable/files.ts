/**
 * Small JSON files written atomically (temp file, fsync, rename, directory fsync), and a
 * coalescing writer: while one write runs, further saves wait for the next one, so a burst
 * of acks costs two fsyncs, not one each.
 */
import { open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ErrorCode, PlexusError } from '../errors/index.js';

/**
 * Write `data` to `path` so that after a crash the file is either the old or the new one.
 * Failures (a full disk, EIO) are `PLEXUS_ERR_STORE_WRITE_FAILED` with the errno in details.
 */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  try {
    await writeAtomically(path, data);
  } catch (err) {
    throw saveFailed(path, err);
  }
}

/** `PLEXUS_ERR_STORE_WRITE_FAILED` for a failed save of `path`, with the errno in details. */
export function saveFailed(path: string, err: unknown): PlexusError {
  const e = err as NodeJS.ErrnoException;
  return new PlexusError(ErrorCode.STORE_WRITE_FAILED, `saving ${path.split(/[\\/]/).slice(-2).join('/')} failed: ${e.code ?? e.message}`, {
    cause: err,
    details: { ...(e.code ? { code: e.code } : {}), ...(e.syscall ? { syscall: e.syscall } : {}) },
  });
}

async function writeAtomically(path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Parse a JSON file, or undefined when it does not exist. */
export async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as unknown;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Saves a snapshot produced by `snapshot()` to `path`. `save()` resolves once a write
 * that started after the call has completed (so it covers every change made before it).
 */
export class CoalescingWriter {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  /** `write` defaults to {@link writeFileAtomic} on `path`. */
  constructor(
    path: string,
    private readonly snapshot: () => string,
    private readonly write: (data: string) => Promise<void> = (data) => writeFileAtomic(path, data),
  ) {}

  save(): Promise<void> {
    if (!this.running) return this.start();
    this.next ??= this.running.then(
      () => this.start(),
      () => this.start(),
    );
    return this.next;
  }

  /** Wait for writes in flight. */
  async idle(): Promise<void> {
    while (this.running || this.next) {
      await (this.next ?? this.running)?.catch(() => undefined);
    }
  }

  private start(): Promise<void> {
    this.next = undefined;
    const p = this.write(this.snapshot()).finally(() => {
      if (this.running === p) this.running = undefined;
    });
    this.running = p;
    return p;
  }
}
