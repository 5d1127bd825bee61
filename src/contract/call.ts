/**
 * The untyped unary call path shared by typed clients and gateways: validate, encode,
 * send with the effective deadline and signal, retry idempotent methods on retryable
 * errors, decode the reply, and turn service errors back into ServiceErrors.
 */
import { backoffDelay } from '../client/backoff.js';
import type { Connection } from '../client/index.js';
import { ServiceBalancer } from '../discovery/balance.js';
import { contentTypeHeader, type Codec } from '../codec/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { REQUEST_ID_HEADER, callLimits, deadlinePassed, noRelease, sleep, type CallLimits } from './context.js';
import { methodOf, methodSubject, resolveCodec } from './define.js';
import { fromCallError } from './errors.js';
import type { CallOptions, RetryOptions } from './handler-types.js';
import type { MethodDefinition, ServiceContract } from './types.js';
import { callCodecs, type CallCodecs } from './wire-codec.js';
import { isPromiseLike, validateWith } from './validate.js';

/** Defaults a typed client applies under each call's options. */
export interface CallDefaults {
  readonly timeoutMs?: number;
  readonly codec?: Codec;
  readonly retry?: false | RetryOptions;
  readonly validate?: boolean;
  /** The major version to call (from the client's version range). @default the contract's */
  readonly major?: number;
  /** Picks instances (version range, least-pending); without one the queue group picks. */
  readonly balancer?: ServiceBalancer;
}

/** Most tries a retry policy may ask for. */
export const MAX_RETRY_ATTEMPTS = 10;
const DEFAULT_RETRY: Required<RetryOptions> = { attempts: 3, backoffMs: 50, maxBackoffMs: 1000 };

/** Errors after which the request surely did not run, so an idempotent call may try again. */
const RETRYABLE = new Set<string>([ErrorCode.NO_RESPONDERS, ErrorCode.RESPONDER_GONE, ErrorCode.CONNECTION_LOST]);

/** True for errors worth another try of an idempotent method. */
export function isRetryable(err: unknown): boolean {
  return err instanceof PlexusError && RETRYABLE.has(err.code);
}

function resolveRetry(retry: false | RetryOptions | undefined): Required<RetryOptions> | undefined {
  if (retry === false) return undefined;
  const r = { ...DEFAULT_RETRY, ...(retry ?? {}) };
  if (!Number.isInteger(r.attempts) || r.attempts < 1 || r.attempts > MAX_RETRY_ATTEMPTS) {
    throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `retry.attempts must be an integer from 1 to ${MAX_RETRY_ATTEMPTS}`);
  }
  if (!(r.backoffMs >= 0) || !(r.maxBackoffMs >= r.backoffMs) || !Number.isFinite(r.maxBackoffMs)) {
    throw new PlexusError(ErrorCode.INVALID_ARGUMENT, 'retry backoffMs must be ≥ 0 and maxBackoffMs ≥ backoffMs (finite)');
  }
  return r;
}

/** The headers a request carries: the caller's, the content type, and the ambient request id. */
function requestHeaders(user: Readonly<Record<string, string>> | undefined, codec: Codec, requestId: string | undefined): Record<string, string> {
  const h: Record<string, string> = user ? { ...user } : {};
  h[contentTypeHeader] = codec.contentType;
  if (requestId !== undefined && h[REQUEST_ID_HEADER] === undefined) h[REQUEST_ID_HEADER] = requestId;
  return h;
}

/**
 * What a unary call resolves once per method rather than once per call: the subject,
 * codecs, retry policy, default deadline and the content-type header. A typed client
 * prepares each method when it is made; {@link callMethod} prepares on every call.
 */
export interface PreparedMethod {
  readonly contract: ServiceContract;
  readonly def: MethodDefinition;
  /** `<service>.<method>`, for messages. */
  readonly what: string;
  readonly subject: string;
  readonly codecs: CallCodecs;
  /** The request headers of a call without headers of its own (shared, never mutated). */
  readonly headers: Readonly<Record<string, string>>;
  readonly retry: Required<RetryOptions> | undefined;
  readonly timeoutMs: number | undefined;
  readonly validate: boolean;
  readonly defaults: CallDefaults;
}

/**
 * Resolve a unary method's call state under `defaults`.
 * @throws PLEXUS_ERR_INVALID_ARGUMENT for an unknown or streaming method or a bad retry policy.
 */
export function prepareMethod(contract: ServiceContract, method: string, defaults: CallDefaults = {}): PreparedMethod {
  const def = methodOf(contract, method);
  const what = `${contract.name}.${method}`;
  if (def.stream !== undefined) {
    throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `${what} is a ${def.stream}-streaming method: call it through serviceClient`);
  }
  const codecs = callCodecs(def, defaults.codec ?? contract.codec);
  return {
    contract,
    def,
    what,
    subject: methodSubject(contract, method, defaults.major),
    codecs,
    headers: Object.freeze({ [contentTypeHeader]: codecs.request.contentType }),
    retry: def.idempotent ? resolveRetry(defaults.retry) : undefined,
    timeoutMs: defaults.timeoutMs ?? def.timeoutMs,
    validate: defaults.validate ?? true,
    defaults,
  };
}

/**
 * Call a unary method without static types (gateways, bridges, tools). Validates the
 * input (unless `validate: false`), then sends it; see docs/services.md for deadlines,
 * retries and errors.
 *
 * @throws ServiceError (application errors, `PLEXUS_ERR_VALIDATION`) or PlexusError
 *   (`PLEXUS_ERR_TIMEOUT`, `PLEXUS_ERR_NO_RESPONDERS`, `PLEXUS_ERR_CANCELLED`, …).
 */
export function callMethod(
  bus: Connection,
  contract: ServiceContract,
  method: string,
  input: unknown,
  options: CallOptions = {},
  defaults: CallDefaults = {},
): Promise<unknown> {
  let prepared: PreparedMethod;
  try {
    prepared = prepareMethod(contract, method, defaults);
  } catch (err) {
    return Promise.reject(err);
  }
  return callPrepared(bus, prepared, input, options);
}

const NO_OPTIONS: CallOptions = Object.freeze({});

/**
 * Call a prepared unary method. The common call (no per-call codec, retry or headers,
 * outside a handler) allocates only its limits, the request and the reply.
 */
export function callPrepared(bus: Connection, m: PreparedMethod, input: unknown, options: CallOptions = NO_OPTIONS): Promise<unknown> {
  let plan: CallPlan;
  try {
    const timeoutMs = options.timeoutMs ?? m.timeoutMs;
    if (timeoutMs !== undefined && !(timeoutMs >= 0 && timeoutMs <= 2 ** 31 - 1)) {
      throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `timeoutMs must be a number of ms from 0 to 2^31-1, got ${timeoutMs}`);
    }
    const codecs = options.codec !== undefined ? callCodecs(m.def, resolveCodec(options.codec)) : m.codecs;
    const retry = m.def.idempotent && options.retry !== undefined ? resolveRetry(options.retry) : m.retry;
    plan = { bus, m, options, codecs, retry, limits: callLimits(timeoutMs, options.signal) };
  } catch (err) {
    return Promise.reject(err);
  }
  const sent = send(plan, input);
  // Only calls inside a handler listen to its signal; the rest have nothing to release.
  return plan.limits.release === noRelease ? sent : sent.finally(plan.limits.release);
}

/** Everything {@link callPrepared} resolved before sending. */
interface CallPlan {
  readonly bus: Connection;
  readonly m: PreparedMethod;
  readonly options: CallOptions;
  readonly codecs: CallCodecs;
  readonly retry: Required<RetryOptions> | undefined;
  readonly limits: CallLimits;
}

/** Validate, encode, send (with retries), decode. */
async function send(plan: CallPlan, input: unknown): Promise<unknown> {
  const { bus, m, options, codecs, retry, limits } = plan;
  const { def, what } = m;
  if (limits.signal?.aborted) throw limits.signal.reason;

  let value = input;
  if (options.validate ?? m.validate) {
    // Most schemas validate synchronously: no extra promise turn for them.
    value = validateWith(def.input, input, 'input', what);
    if (isPromiseLike(value)) value = await value;
  }
  const payload = codecs.request.encode(value);
  const headers =
    options.headers === undefined && limits.requestId === undefined && codecs === m.codecs
      ? m.headers
      : requestHeaders(options.headers, codecs.request, limits.requestId);
  const attempts = retry?.attempts ?? 1;
  const balancer = m.defaults.balancer ?? (options.balance !== undefined ? new ServiceBalancer(bus, m.contract.name) : undefined);
  const routed = balancer?.needsRouting(options.balance) === true;

  for (let attempt = 0; ; attempt++) {
    let timeout: number | undefined;
    if (limits.deadline !== undefined) {
      const remaining = limits.deadline - Date.now();
      if (remaining <= 0) throw deadlinePassed(what);
      timeout = Math.ceil(remaining);
    }
    // Each attempt routes again: a retry after RESPONDER_GONE goes to an instance still there.
    const route = routed ? await balancer!.route(m.subject, options.balance).catch((err: unknown) => Promise.reject(fromCallError(err))) : undefined;
    try {
      const reply = await bus.request(route?.subject ?? m.subject, payload, { timeout, signal: limits.signal, headers, idempotent: def.idempotent === true });
      route?.release();
      return codecs.reply.decode(reply.data);
    } catch (err) {
      route?.release();
      if (!retry || attempt + 1 >= attempts || !isRetryable(err)) throw fromCallError(err);
      const delay = backoffDelay(attempt, retry.backoffMs, retry.maxBackoffMs);
      // Never retry past the deadline: a try that cannot finish in time is not made.
      if (limits.deadline !== undefined && Date.now() + delay >= limits.deadline) throw fromCallError(err);
      await sleep(delay, limits.signal);
    }
  }
}
