/**
 * Bounded waiting for integration tests: every wait has a timeout, so a broken broker
 * or client fails the test with a message instead of hanging the run.
 */

/** What the helpers here reject with when time runs out. */
export class WaitTimeoutError extends Error {
  override get name(): string {
    return 'WaitTimeoutError';
  }
}

/** Sleep for `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Poll `predicate` (every few ms) until it returns true; reject after `ms` naming `what`.
 * The predicate may be async.
 */
export async function waitFor(predicate: () => boolean | Promise<boolean>, ms: number, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new WaitTimeoutError(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** Settle like `promise`, or reject after `ms` naming `what`. */
export async function within<T>(promise: Promise<T>, ms: number, what = 'operation'): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new WaitTimeoutError(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** The error `promise` rejects with; fails if it resolves or does not settle within `ms`. */
export async function rejection(promise: Promise<unknown>, ms: number, what = 'operation'): Promise<unknown> {
  try {
    await within(promise, ms, what);
  } catch (err) {
    if (err instanceof WaitTimeoutError) throw err;
    return err;
  }
  throw new Error(`${what} resolved, expected a rejection`);
}

/** The `code` of what `promise` rejects with (undefined if the error has none). */
export async function rejectionCode(promise: Promise<unknown>, ms: number, what = 'operation'): Promise<string | undefined> {
  return codeOf(await rejection(promise, ms, what));
}

/** The `code` of what `fn` throws synchronously; fails if it does not throw. */
export function thrownCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return codeOf(err);
  }
  throw new Error('expected a synchronous throw');
}

/** `err.code` if it is a string. */
export function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A promise plus its resolve and reject. */
export interface Deferred<T = void> {
  readonly promise: Promise<T>;
  readonly resolve: (v: T) => void;
  readonly reject: (e: unknown) => void;
}

/** A promise plus its resolve, for one-shot signals between test actors. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
