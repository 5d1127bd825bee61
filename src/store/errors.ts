/**
 * The store's coded errors: system errors from the file system become
 * `PLEXUS_ERR_STORE_WRITE_FAILED` or `PLEXUS_ERR_STORE_READ_FAILED` with the errno in
 * `details`; a corrupt range becomes `PLEXUS_ERR_STORE_CORRUPT`.
 */
import { ErrorCode, PlexusError, plexusError } from '../errors/index.js';
import type { CorruptRange } from './types.js';

function sysDetails(err: unknown, segment: string | undefined): Record<string, unknown> {
  const e = err as NodeJS.ErrnoException | undefined;
  return { code: e?.code, errno: e?.errno, syscall: e?.syscall, segment };
}

/** `PLEXUS_ERR_STORE_WRITE_FAILED` for a failed write, fsync, truncate or file creation. */
export function writeFailed(err: unknown, segment: string | undefined, what: string): PlexusError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return plexusError(ErrorCode.STORE_WRITE_FAILED, `${what} failed: ${code ?? String(err)}`, { cause: err, details: sysDetails(err, segment) });
}

/** `PLEXUS_ERR_STORE_READ_FAILED` for a failed read. */
export function readFailed(err: unknown, segment: string | undefined, what: string): PlexusError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return plexusError(ErrorCode.STORE_READ_FAILED, `${what} failed: ${code ?? String(err)}`, { cause: err, details: sysDetails(err, segment) });
}

const WRITE_SYSCALLS = new Set(['write', 'writev', 'ftruncate', 'fsync', 'fdatasync', 'rename', 'unlink', 'mkdir']);
const WRITE_CODES = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EFBIG']);

/** Pass a PlexusError through; classify anything else as a read or write failure. */
export function ioError(err: unknown, what: string): PlexusError {
  if (err instanceof PlexusError) return err;
  const e = err as NodeJS.ErrnoException | undefined;
  const writing = WRITE_CODES.has(e?.code ?? '') || WRITE_SYSCALLS.has(e?.syscall ?? '');
  return writing ? writeFailed(err, undefined, what) : readFailed(err, undefined, what);
}

/** The error for reading inside a corrupt range; `details` tells how to skip it. */
export function corruptError(range: CorruptRange): PlexusError {
  return plexusError(
    ErrorCode.STORE_CORRUPT,
    `records ${range.fromSeq}..${range.toSeq} in ${range.segment} are corrupt (${range.reason}) and cannot be served`,
    { details: { ...range } },
  );
}
