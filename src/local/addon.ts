/**
 * Loads the native shared-memory addon (native/, built by node-gyp at install time).
 *
 * Loading is lazy and never throws at import time: Plexus works without the addon, and
 * only what needs it (shared segments, cross-process futex waits, peer credentials) calls
 * {@link loadShm}, which throws `PLEXUS_ERR_SHM_UNAVAILABLE` saying why when it is missing.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { ErrorCode, plexusError } from '../errors/index.js';

/** What a futex wait returned: woken, the word had another value, or the time ran out. */
export type FutexWaitResult = 'ok' | 'not-equal' | 'timed-out';

/** The raw functions of the compiled addon. Arguments are checked natively. */
export interface ShmAddon {
  /** shm_open(O_CREAT|O_EXCL, 0600) + ftruncate + mmap(MAP_SHARED); throws an errno-coded Error. */
  create(name: string, size: number): SharedArrayBuffer;
  /** shm_open + fstat + mmap(MAP_SHARED); `uid` and `mode` are the object's, for checking. */
  open(name: string): { buffer: SharedArrayBuffer; uid: number; mode: number; size: number };
  /** shm_unlink; false when the name did not exist. */
  unlink(name: string): boolean;
  /** FUTEX_WAIT on the 32-bit word at `byteOffset`; blocks the calling thread. */
  wait(buffer: SharedArrayBuffer, byteOffset: number, expected: number, timeoutMs: number): FutexWaitResult;
  /** FUTEX_WAKE: wakes up to `count` waiters (any process), returns how many. */
  wake(buffer: SharedArrayBuffer, byteOffset: number, count: number): number;
  /** FUTEX_WAIT on a helper thread; the promise settles on the event loop and never rejects. */
  waitAsync(
    buffer: SharedArrayBuffer,
    byteOffset: number,
    expected: number,
    timeoutMs: number,
    ref: boolean,
  ): { promise: Promise<FutexWaitResult | 'cancelled'>; id: number };
  /** Cancels a pending {@link ShmAddon.waitAsync}; true if it was still pending. */
  cancelWait(id: number): boolean;
  /** How many async waits of this thread are not yet settled. */
  pendingWaits(): number;
  /** SO_PEERCRED of a connected Unix socket's file descriptor. */
  peerCred(fd: number): { pid: number; uid: number; gid: number };
  /** An ordinary ArrayBuffer over the same memory (plain memcpy for bulk copies); keeps it alive. */
  alias(buffer: SharedArrayBuffer): ArrayBuffer;
}

/** Whether the addon can be used, and if not, why. */
export type ShmAvailability =
  | { readonly available: true; readonly path: string }
  | { readonly available: false; readonly reason: string; readonly path: string };

/** Options for {@link loadShm}. */
export interface LoadShmOptions {
  /**
   * Path of the compiled `.node` file.
   * @default the `PLEXUS_SHM_ADDON` environment variable, else native/build/Release/plexus_shm.node in this package
   */
  readonly path?: string;
}

// Compiled to dist/src/local/addon.js; the package root is three levels up.
const packageRoot = new URL('../../../', import.meta.url);
const defaultPath = fileURLToPath(new URL('native/build/Release/plexus_shm.node', packageRoot));
const buildErrorPath = fileURLToPath(new URL('native/build/build-error.txt', packageRoot));

type Loaded = { ok: true; addon: ShmAddon } | { ok: false; reason: string; cause?: unknown };
const loaded = new Map<string, Loaded>();

function resolvePath(options?: LoadShmOptions): string {
  return options?.path ?? process.env.PLEXUS_SHM_ADDON ?? defaultPath;
}

function notBuiltReason(path: string): string {
  if (path === defaultPath && existsSync(buildErrorPath)) {
    const text = readFileSync(buildErrorPath, 'utf8').trim();
    const first = text.split('\n', 1)[0] ?? '';
    return `not built: ${first} (see native/build/build-error.txt; rebuild with npm run build:native)`;
  }
  return `not built: ${path} does not exist (build it with npm run build:native)`;
}

function tryLoad(path: string): Loaded {
  if (process.platform !== 'linux') {
    return { ok: false, reason: `platform ${process.platform} is not supported (Linux only for now)` };
  }
  if (!existsSync(path)) return { ok: false, reason: notBuiltReason(path) };
  try {
    const addon = createRequire(import.meta.url)(path) as ShmAddon;
    if (typeof addon.create !== 'function' || typeof addon.waitAsync !== 'function') {
      return { ok: false, reason: `load error: ${path} is not the Plexus shared-memory addon` };
    }
    return { ok: true, addon };
  } catch (cause) {
    return { ok: false, reason: `load error: ${(cause as Error).message}`, cause };
  }
}

function get(path: string): Loaded {
  let r = loaded.get(path);
  if (r === undefined) {
    r = tryLoad(path);
    loaded.set(path, r);
  }
  return r;
}

/**
 * The shared-memory addon, loaded on first use.
 * @throws PlexusError `PLEXUS_ERR_SHM_UNAVAILABLE` with `details.reason` when it cannot be used.
 */
export function loadShm(options?: LoadShmOptions): ShmAddon {
  const path = resolvePath(options);
  const r = get(path);
  if (r.ok) return r.addon;
  throw plexusError(ErrorCode.SHM_UNAVAILABLE, `shared memory is unavailable: ${r.reason}`, {
    cause: r.cause,
    details: { reason: r.reason, path },
  });
}

/** Whether {@link loadShm} would succeed, without throwing. */
export function shmAvailability(options?: LoadShmOptions): ShmAvailability {
  const path = resolvePath(options);
  const r = get(path);
  return r.ok ? { available: true, path } : { available: false, reason: r.reason, path };
}

/**
 * Unix peer credentials of a connected Unix-domain socket (`socket._handle.fd` in Node).
 * @throws PlexusError `PLEXUS_ERR_SHM_UNAVAILABLE` without the addon, `PLEXUS_ERR_SHM_FAILED` when getsockopt fails.
 */
export function peerCredentials(fd: number, options?: LoadShmOptions): { pid: number; uid: number; gid: number } {
  const addon = loadShm(options);
  try {
    return addon.peerCred(fd);
  } catch (err) {
    throw fromSystemError(err, `SO_PEERCRED on fd ${fd}`);
  }
}

/**
 * A byte view of `buffer`'s memory through an ordinary (non-shared) ArrayBuffer, or
 * undefined without the addon. V8 copies into and out of shared memory with relaxed
 * atomic word moves, about three times slower than memcpy; copies through the alias are
 * plain memcpy. Use it only for bulk copies into or out of space you own, between the
 * Atomics operations that hand that space over; never hand it to user code.
 */
export function fastCopyView(buffer: SharedArrayBuffer, byteOffset: number, length: number, options?: LoadShmOptions): Uint8Array | undefined {
  const r = get(resolvePath(options));
  if (!r.ok) return undefined;
  return new Uint8Array(r.addon.alias(buffer), byteOffset, length);
}

/** Turn an errno-coded Error from the addon into `PLEXUS_ERR_SHM_FAILED` (or pass on a TypeError/RangeError as INVALID_ARGUMENT). */
export function fromSystemError(err: unknown, what: string, extra?: Record<string, unknown>): Error {
  const e = err as NodeJS.ErrnoException;
  if (err instanceof TypeError || err instanceof RangeError) {
    return plexusError(ErrorCode.INVALID_ARGUMENT, `${what}: ${e.message}`, { cause: err });
  }
  return plexusError(ErrorCode.SHM_FAILED, `${what}: ${e.message}`, {
    cause: err,
    details: { code: e.code, errno: e.errno, syscall: e.syscall, ...extra },
  });
}
