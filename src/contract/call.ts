/**
 * The untyped unary call path shared by typed clients and gateways: validate, encode,
 * send with the effective deadline and signal, retry idempotent methods on retryable
 * errors, decode the reply, and turn service errors back into ServiceErrors.
 */
import { backoffDelay } from '../client/backoff.js';
import type { Connection } from '../client/index.js';
import { ServiceBalancer } from '../discovery/index.js';
import { contentTypeHeader, type Codec } from '../codec/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { REQUEST_ID_HEADER, callLimits, deadlinePassed, sleep, type CallLimits } from './context.js';
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
 * Call a unary method without static types (gateways, bridges, tools). Validates the
 * input (unless `validate: false`), then sends it; see docs/services.md for deadlines,
 * retries and errors.
 *
 * @throws ServiceError (application errors, `PLEXUS_ERR_VALIDATION`) or PlexusError
 *   (`PLEXUS_ERR_TIMEOUT`, `PLEXUS_ERR_NO_RESPONDERS`, `PLEXUS_ERR_CANCELLED`, …).
 */
export async function callMethod(
  bus: Connection,
  contract: ServiceContract,
  method: string,
  input: unknown,
  options: CallOptions = {},
  defaults: CallDefaults = {},
): Promise<unknown> {
  const def = methodOf(contract, method);
  const what = `${contract.name}.${method}`;
  if (def.stream !== undefined) {
    throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `${what} is a ${def.stream}-streaming method: call it through serviceClient`);
  }
  const codecs = callCodecs(def, options.codec !== undefined ? resolveCodec(options.codec) : (defaults.codec ?? contract.codec));
  const subject = methodSubject(contract, method, defaults.major);
  const timeoutMs = options.timeoutMs ?? defaults.timeoutMs ?? def.timeoutMs;
  if (timeoutMs !== undefined && !(timeoutMs >= 0 && timeoutMs <= 2 ** 31 - 1)) {
    throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `timeoutMs must be a number of ms from 0 to 2^31-1, got ${timeoutMs}`);
  }
  const retry = def.idempotent ? resolveRetry(options.retry ?? defaults.retry) : undefined;
  const plan: CallPlan = { bus, contract, subject, def, what, options, defaults, codecs, retry, limits: callLimits(timeoutMs, options.signal) };
  try {
    return await send(plan, input);
  } finally {
    plan.limits.release();
  }
}

/** Everything {@link callMethod} resolved before sending. */
interface CallPlan {
  readonly bus: Connection;
  readonly contract: ServiceContract;
  readonly subject: string;
  readonly def: MethodDefinition;
  /** `<service>.<method>`, for messages. */
  readonly what: string;
  readonly options: CallOptions;
  readonly defaults: CallDefaults;
  readonly codecs: CallCodecs;
  readonly retry: Required<RetryOptions> | undefined;
  readonly limits: CallLimits;
}

/** Validate, encode, send (with retries), decode. */
async function send(plan: CallPlan, input: unknown): Promise<unknown> {
  const { bus, contract, subject, def, what, options, defaults, codecs, retry, limits } = plan;
  if (limits.signal?.aborted) throw limits.signal.reason;

  let value = input;
  if (options.validate ?? defaults.validate ?? true) {
    // Most schemas validate synchronously: no extra promise turn for them.
    value = validateWith(def.input, input, 'input', what);
    if (isPromiseLike(value)) value = await value;
  }
  const payload = codecs.request.encode(value);
  const headers = requestHeaders(options.headers, codecs.request, limits.requestId);
  const attempts = retry?.attempts ?? 1;
  const balancer = defaults.balancer ?? (options.balance !== undefined ? new ServiceBalancer(bus, contract.name) : undefined);

  for (let attempt = 0; ; attempt++) {
    let timeout: number | undefined;
    if (limits.deadline !== undefined) {
      const remaining = limits.deadline - Date.now();
      if (remaining <= 0) throw deadlinePassed(what);
      timeout = Math.ceil(remaining);
    }
    // Each attempt routes again: a retry after RESPONDER_GONE goes to an instance still there.
    const route = balancer?.needsRouting(options.balance) ? await balancer.route(subject, options.balance).catch((err: unknown) => Promise.reject(fromCallError(err))) : undefined;
    try {
      const reply = await bus.request(route?.subject ?? subject, payload, {
        ...(timeout !== undefined ? { timeout } : {}),
        ...(limits.signal ? { signal: limits.signal } : {}),
        headers,
        idempotent: def.idempotent === true,
      });
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
