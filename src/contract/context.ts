/**
 * The handler context and the ambient call context that makes deadlines and cancellation
 * travel: while a handler runs, AsyncLocalStorage holds its context, and any service
 * call made inside it inherits the remaining time and the abort signal. A call's own
 * options can shorten the deadline, never extend it.
 */
import type { RequestContext } from '../client/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';

/** Log levels of the handler logger. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Where handler log lines go: one call per line, with the service, method and request id in `fields`. */
export type LogSink = (level: LogLevel, message: string, fields: Readonly<Record<string, unknown>>) => void;

/** A small structured logger bound to one request. */
export interface ServiceLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** The default sink: warnings and errors to stderr as one JSON line; debug/info dropped. */
export const stderrLogSink: LogSink = (level, message, fields) => {
  if (level === 'warn' || level === 'error') console.error(JSON.stringify({ level, message, ...fields }));
};

/** What a service handler gets besides its input. */
export interface HandlerContext {
  /** Epoch ms when the caller stops waiting, or undefined if it set no deadline. */
  readonly deadline: number | undefined;
  /**
   * Aborts when the caller cancels, its deadline passes, or it disconnects (reason: a
   * PlexusError CANCELLED or TIMEOUT). Pass it to whatever the handler awaits.
   */
  readonly signal: AbortSignal;
  /** The caller's identity, stamped by the broker from its authenticated connection. */
  readonly caller: string;
  /** The request's application headers (the content type included). */
  readonly headers: Readonly<Record<string, string>>;
  /** A logger whose lines carry the service, method and request id. */
  readonly log: ServiceLogger;
  /** The request id: the caller's `request-id` header, else one made on arrival. */
  readonly requestId: string;
  /** `<service>.<method>`. */
  readonly method: string;
}

/** Header that carries a request id across hops. */
export const REQUEST_ID_HEADER = 'request-id';

/** What nested calls inherit. */
export interface AmbientCall {
  readonly deadline: number | undefined;
  /** Read lazily: the core makes the signal (an AbortController and a timer) only on demand. */
  readonly signal: AbortSignal;
  readonly requestId: string;
}

/**
 * Where the ambient call lives: AsyncLocalStorage on Node (installed by ./ambient-node.js,
 * which serving imports), none in a browser, whose calls then simply inherit nothing.
 * A seam so this module, and the client side with it, needs no Node built-in.
 */
export interface AmbientStorage {
  getStore(): AmbientCall | undefined;
  run<A extends unknown[], T>(ctx: AmbientCall, fn: (...args: A) => T, ...args: A): T;
}

const noStorage: AmbientStorage = {
  getStore: () => undefined,
  run: (_ctx, fn, ...args) => fn(...args),
};
let storage: AmbientStorage = noStorage;

/** Install the ambient storage (once, by the Node side). */
export function setAmbientStorage(s: AmbientStorage): void {
  storage = s;
}

/** The context of the handler this code runs inside, if any. */
export function currentCall(): AmbientCall | undefined {
  return storage.getStore();
}

/** Run `fn(...args)` with `ctx` as the ambient call context (arguments passed through, so callers need no closure). */
export function runWithCall<A extends unknown[], T>(ctx: AmbientCall, fn: (...args: A) => T, ...args: A): T {
  return storage.run(ctx, fn, ...args);
}

function makeLogger(sink: LogSink, base: Readonly<Record<string, unknown>>): ServiceLogger {
  const line = (level: LogLevel) => (message: string, fields?: Record<string, unknown>) => {
    try {
      sink(level, message, fields ? { ...base, ...fields } : base);
    } catch {
      // A failing log sink must not fail the request.
    }
  };
  return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
}

/** The handler context for one request, on top of the core's request context. */
export class RequestHandlerContext implements HandlerContext, AmbientCall {
  private logger: ServiceLogger | undefined;
  private id: string | undefined;

  constructor(
    private readonly core: RequestContext,
    readonly headers: Readonly<Record<string, string>>,
    readonly method: string,
    private readonly sink: LogSink,
  ) {
    this.id = headers[REQUEST_ID_HEADER];
  }

  /** The caller's id, or one made on first use (most requests never need one). */
  get requestId(): string {
    return (this.id ??= globalThis.crypto.randomUUID());
  }

  get deadline(): number | undefined {
    return this.core.deadline;
  }

  get signal(): AbortSignal {
    return this.core.signal;
  }

  get caller(): string {
    return this.core.from;
  }

  get log(): ServiceLogger {
    return (this.logger ??= makeLogger(this.sink, { method: this.method, requestId: this.requestId }));
  }
}

/** The effective deadline and signal of a call, from its options and the ambient call. */
export interface CallLimits {
  /** Epoch ms, or undefined for none. */
  readonly deadline: number | undefined;
  readonly signal: AbortSignal | undefined;
  readonly requestId: string | undefined;
  /** Stop listening to the ambient handler's signal (call once the call has settled). */
  release(): void;
}

const noop = (): void => {};

/** The `release` of limits that listen to nothing (lets callers skip a `finally`). */
export const noRelease: () => void = noop;

/**
 * Combine a call's own timeout and signal with the ambient handler's: the earlier
 * deadline wins, and either signal aborts the call.
 */
export function callLimits(timeoutMs: number | undefined, signal: AbortSignal | undefined, now = Date.now()): CallLimits {
  const ambient = storage.getStore();
  let deadline = timeoutMs !== undefined && timeoutMs > 0 ? now + timeoutMs : undefined;
  if (ambient?.deadline !== undefined && (deadline === undefined || ambient.deadline < deadline)) deadline = ambient.deadline;
  let sig = signal;
  let release = noop;
  if (ambient) {
    const inherited = inheritCancel(ambient.signal, deadline !== undefined);
    release = inherited.release;
    sig = sig ? AbortSignal.any([sig, inherited.signal]) : inherited.signal;
  }
  return { deadline, signal: sig, requestId: ambient?.requestId, release };
}

/**
 * The ambient signal as the nested call should see it. A TIMEOUT abort is left to the
 * nested call's own timer (its deadline is never later): the core sends a passed
 * deadline downstream as TIMEOUT but any signal abort as plain CANCELLED, so forwarding
 * the abort would turn the inner handlers' TIMEOUT into CANCELLED.
 */
function inheritCancel(ambient: AbortSignal, hasDeadline: boolean): { signal: AbortSignal; release: () => void } {
  if (!hasDeadline) return { signal: ambient, release: noop };
  const isTimeout = (r: unknown): boolean => r instanceof PlexusError && r.code === ErrorCode.TIMEOUT;
  if (ambient.aborted) return { signal: isTimeout(ambient.reason) ? new AbortController().signal : ambient, release: noop };
  const ac = new AbortController();
  const onAbort = (): void => {
    if (!isTimeout(ambient.reason)) ac.abort(ambient.reason);
  };
  ambient.addEventListener('abort', onAbort, { once: true });
  // A handler may make many calls: each one's listener goes when it settles.
  return { signal: ac.signal, release: () => ambient.removeEventListener('abort', onAbort) };
}

/** PLEXUS_ERR_TIMEOUT for a deadline that passed before the call could go out. */
export function deadlinePassed(what: string): PlexusError {
  return new PlexusError(ErrorCode.TIMEOUT, `the deadline for ${what} passed before it was sent`);
}

/** Resolve after `ms`, or reject with the signal's reason. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
