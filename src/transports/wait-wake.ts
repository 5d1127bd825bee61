/**
 * One waiter of a reader's `next()`: resolves when woken, rejects with a coded timeout
 * at `deadline` or with the signal's reason, and always removes itself. Shared by the
 * fifo and udp readers, whose `next()` may be called by several consumers at once.
 */
import type { PlexusError } from '../errors/index.js';

export function waitForWake(
  waiters: Set<() => void>,
  deadline: number | undefined,
  signal: AbortSignal | undefined,
  timeoutError: () => PlexusError,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer =
      deadline === undefined
        ? undefined
        : setTimeout(() => {
            cleanup();
            reject(timeoutError());
          }, Math.max(0, deadline - Date.now()));
    const onAbort = (): void => {
      cleanup();
      reject(signal!.reason);
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      waiters.delete(wake);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const wake = (): void => {
      cleanup();
      resolve();
    };
    waiters.add(wake);
  });
}
