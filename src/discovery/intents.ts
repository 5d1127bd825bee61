/**
 * Intent-style addressing (S5, like Android intents): apps declare what they can do
 * (`handle(bus, 'intent.share.image', …)`), and a caller asks for it
 * (`intent(bus, 'intent.share.image', payload)`) without knowing who will answer.
 * Handlers are registry instances named after the intent, so callers can see them
 * (and choose) before sending.
 */
import { randomUUID } from 'node:crypto';
import { isServiceName, type InstanceRecord } from '../broker/registry.js';
import type { Connection, RequestContext, Subscription } from '../client/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { gather } from './gather.js';
import { registerInstance, type InstanceHandle } from './instance.js';
import { instanceSubject } from './subjects.js';
import { listInstances } from './watch.js';

/** What an intent handler gets besides the payload. */
export interface IntentContext {
  /** Fires when the caller gives up (its timeout, its signal, or it disconnected). */
  readonly signal: AbortSignal;
  /** Epoch ms when the caller stops waiting. */
  readonly deadline: number | undefined;
  /** The caller's identity, stamped by the broker. */
  readonly from: string;
}

/** Handles one intent: returns (or resolves to) a JSON value, or throws. */
export type IntentHandler = (payload: unknown, ctx: IntentContext) => unknown;

/** Options of {@link handle}. */
export interface HandleOptions {
  /** What callers (and choosers) see about this handler: label, accepted types, … (JSON). */
  readonly info?: Readonly<Record<string, unknown>>;
  /** Instance id. @default a random UUID */
  readonly id?: string;
  /** Version of the handler. @default '1.0.0' */
  readonly version?: string;
  /** Bound on registering. @default 5000 */
  readonly timeoutMs?: number;
}

/** A registered intent handler. */
export interface IntentHandlerHandle {
  readonly id: string;
  readonly instance: InstanceHandle;
  /** Stop handling: leaves the registry, then stops listening. */
  close(): Promise<void>;
}

/** Who answered and with what. */
export interface IntentResult<T = unknown> {
  readonly value: T;
  readonly handler: InstanceRecord;
}

/** One handler's outcome in `pick: 'all'`. */
export type IntentOutcome<T = unknown> =
  | { readonly handler: InstanceRecord; readonly value: T; readonly error?: undefined }
  | { readonly handler: InstanceRecord; readonly value?: undefined; readonly error: PlexusError };

/** Picks one handler among those registered (or none, to send nothing). */
export type IntentChooser = (handlers: readonly InstanceRecord[]) => InstanceRecord | undefined | Promise<InstanceRecord | undefined>;

/** Options of {@link intent}. */
export interface IntentOptions {
  /**
   * `first` (default): every handler gets it, the first successful answer wins.
   * `all`: every handler's answer (or error) within the timeout.
   * A function: choose one handler from their registrations; only it gets the payload.
   */
  readonly pick?: 'first' | 'all' | IntentChooser;
  /** @default 5000 */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** The reply envelope: which instance answered, and its value or error. */
type Envelope = { id: string; ok: unknown } | { id: string; error: { code: string; message: string; details?: unknown } };

/**
 * Handle `intentName` on `bus`. Every handler of a name gets each `first`/`all`
 * intent (a plain subscription on the intent subject), and its own instance subject
 * for a chooser's pick.
 */
export async function handle(bus: Connection, intentName: string, handler: IntentHandler, options: HandleOptions = {}): Promise<IntentHandlerHandle> {
  if (!isServiceName(intentName)) throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `intent name ${JSON.stringify(intentName)}: use dot-separated tokens`);
  const id = options.id ?? randomUUID();
  let instance: InstanceHandle | undefined;
  const run = async (data: Uint8Array, ctx: RequestContext): Promise<string> => {
    const started = performance.now();
    let envelope: Envelope;
    try {
      const payload: unknown = data.length === 0 ? undefined : JSON.parse(Buffer.from(data).toString('utf8'));
      envelope = { id, ok: (await handler(payload, ctx)) ?? null };
      instance?.record('handle', performance.now() - started);
    } catch (err) {
      instance?.record('handle', performance.now() - started, true);
      const pe = err instanceof PlexusError ? err : new PlexusError(ErrorCode.HANDLER_FAILED, err instanceof Error ? err.message : String(err));
      envelope = { id, error: pe.toWire() };
    }
    return JSON.stringify(envelope);
  };
  const direct = instanceSubject(id, intentName);
  // Subscribed before registering (on the same connection, so in that order at the
  // broker): a caller that sees the registration always reaches the handler.
  // Plain subscriptions (queue ''): every handler hears a `first`/`all` intent.
  const subs: Subscription[] = [
    bus.serve(intentName, (msg, ctx) => run(msg.data, ctx), { queue: '' }),
    bus.serve(direct, (msg, ctx) => run(msg.data, ctx), { queue: '' }),
  ];
  try {
    instance = await registerInstance(
      bus,
      { name: intentName, version: options.version ?? '1.0.0', id, endpoints: [intentName, direct], metadata: { ...(options.info ?? {}), kind: 'intent' } },
      options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {},
    );
  } catch (err) {
    for (const s of subs) s.unsubscribe();
    throw err;
  }
  const registered = instance;
  return {
    id,
    instance: registered,
    close: async () => {
      try {
        await registered.close();
      } finally {
        for (const s of subs) s.unsubscribe();
      }
    },
  };
}

/**
 * Ask whoever handles `intentName`. The caller names the capability, not the handler.
 *
 * @throws PLEXUS_ERR_NO_RESPONDERS at once when no handler is registered (or the chooser
 *   picked none: PLEXUS_ERR_CANCELLED), PLEXUS_ERR_TIMEOUT when none answered in time,
 *   or the handler's own error (for `first`: when every handler failed, the first error).
 */
export function intent<T = unknown>(bus: Connection, intentName: string, payload: unknown, options: IntentOptions & { pick: 'all' }): Promise<IntentOutcome<T>[]>;
export function intent<T = unknown>(bus: Connection, intentName: string, payload: unknown, options?: IntentOptions): Promise<IntentResult<T>>;
export async function intent<T>(bus: Connection, intentName: string, payload: unknown, options: IntentOptions = {}): Promise<IntentResult<T> | IntentOutcome<T>[]> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const signal = options.signal;
  const deadline = Date.now() + timeoutMs;
  const { instances } = await listInstances(bus, intentName, { timeoutMs, ...(signal ? { signal } : {}) });
  if (instances.length === 0) throw new PlexusError(ErrorCode.NO_RESPONDERS, `nothing handles ${intentName}`);
  const data = payload === undefined ? '' : JSON.stringify(payload);
  const remaining = (): number => {
    const ms = deadline - Date.now();
    if (ms <= 0) throw new PlexusError(ErrorCode.TIMEOUT, `${intentName}: no answer within ${timeoutMs} ms`);
    return ms;
  };
  const pick = options.pick ?? 'first';
  const byId = new Map(instances.map((i) => [i.id, i]));

  if (typeof pick === 'function') {
    const chosen = await pick(instances);
    if (chosen === undefined) throw new PlexusError(ErrorCode.CANCELLED, `the chooser picked no handler for ${intentName}`);
    const reply = await bus.request(instanceSubject(chosen.id, intentName), data, { timeout: remaining(), ...(signal ? { signal } : {}) });
    const env = reply.json<Envelope>();
    if ('error' in env) throw PlexusError.fromWire(env.error);
    return { value: env.ok as T, handler: byId.get(env.id) ?? chosen };
  }

  const outcomes: IntentOutcome<T>[] = [];
  const answers = await gather(bus, intentName, data, {
    timeoutMs: remaining(),
    expect: instances.length,
    ...(signal ? { signal } : {}),
    // `first` ends at the first success; errors are kept in case nothing succeeds.
    until: (a) => pick === 'first' && a.error === undefined && !('error' in a.msg.json<Envelope>()),
  });
  for (const a of answers) {
    if (a.error) continue; // a transport-level error from a responder: not one of ours
    const env = a.msg.json<Envelope>();
    const handler = byId.get(env.id) ?? ({ id: env.id, name: intentName } as InstanceRecord);
    outcomes.push('error' in env ? { handler, error: PlexusError.fromWire(env.error) } : { handler, value: env.ok as T });
  }
  if (pick === 'all') {
    // Registered handlers that did not answer in time are reported, not silently left out.
    for (const inst of instances) {
      if (!outcomes.some((o) => o.handler.id === inst.id)) {
        outcomes.push({ handler: inst, error: new PlexusError(ErrorCode.TIMEOUT, `${inst.id} did not answer within ${timeoutMs} ms`) });
      }
    }
    return outcomes;
  }
  const win = outcomes.find((o) => o.error === undefined);
  if (win) return { value: win.value as T, handler: win.handler };
  const failed = outcomes.find((o) => o.error !== undefined);
  if (failed?.error) throw failed.error;
  throw new PlexusError(ErrorCode.TIMEOUT, `${intentName}: no answer within ${timeoutMs} ms`);
}
