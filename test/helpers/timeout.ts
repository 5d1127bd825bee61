/**
 * Bounded waiting for tests: nothing a test awaits may hang the run.
 */

/** What {@link withTimeout} rejects with when time runs out. */
export class TestTimeoutError extends Error {
  override get name(): string {
    return 'TestTimeoutError';
  }
}

/** Resolve or reject with `promise`, or reject after `ms` naming `what`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what = 'operation'): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new TestTimeoutError(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Sleep. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll `condition` every few ms until it holds; reject after `ms` naming `what`. */
export async function waitFor(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(2);
  }
}

/**
 * The error a promise rejects with, or a failure if it resolves or takes longer than
 * `ms`. Pair with `assert.equal((err as PlexusError).code, ...)`.
 */
export async function rejectionOf(promise: Promise<unknown>, ms: number, what = 'operation'): Promise<unknown> {
  let outcome: { ok: true } | { ok: false; err: unknown };
  try {
    await withTimeout(promise, ms, what);
    outcome = { ok: true };
  } catch (err) {
    if (err instanceof TestTimeoutError) throw err;
    outcome = { ok: false, err };
  }
  if (outcome.ok) throw new Error(`${what} resolved, expected a rejection`);
  return outcome.err;
}
