/**
 * The Plexus handler context of a gRPC call: the call's deadline and cancellation as
 * `deadline`/`signal`, its metadata as headers, the peer as caller. It is also the
 * ambient call while the handler runs, so the handler's own service calls inherit the
 * remaining time and the cancellation, exactly as for requests from the bus.
 */
import { randomUUID } from 'node:crypto';
import type { Metadata } from '@grpc/grpc-js';
import { REQUEST_ID_HEADER, type AmbientCall, type HandlerContext, type LogSink, type ServiceLogger } from '../contract/context.js';
import { ErrorCode, PlexusError } from '../errors/index.js';

/** What the context needs from a grpc-js server call (every call kind has these). */
export interface GrpcServerCallLike {
  readonly metadata: Metadata;
  readonly cancelled: boolean;
  getDeadline(): Date | number;
  getPeer(): string;
  on(event: 'cancelled', listener: () => void): unknown;
}

/** A cancel this close to the deadline is the deadline passing (timers and clocks differ by a few ms). */
const DEADLINE_SLACK_MS = 25;
/** The longest timer Node honours; later deadlines are left to gRPC itself. */
const MAX_TIMER_MS = 0x7fffffff;

/** Handler context for one gRPC call. Call {@link GrpcHandlerContext.done} when the call ends. */
export class GrpcHandlerContext implements HandlerContext, AmbientCall {
  readonly deadline: number | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly caller: string;
  readonly requestId: string;
  private readonly abort = new AbortController();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private logger: ServiceLogger | undefined;

  constructor(
    call: GrpcServerCallLike,
    readonly method: string,
    private readonly sink: LogSink,
  ) {
    const d = call.getDeadline();
    const ms = d instanceof Date ? d.getTime() : d;
    this.deadline = Number.isFinite(ms) ? ms : undefined;
    const headers: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [k, v] of Object.entries(call.metadata.getMap())) if (typeof v === 'string') headers[k] = v;
    this.headers = headers;
    this.caller = `grpc:${call.getPeer()}`;
    this.requestId = headers[REQUEST_ID_HEADER] ?? randomUUID();
    // grpc-js reports both a client's cancel and a passed deadline as 'cancelled', and
    // its deadline timer can fire a few ms before our clock reads the deadline.
    const onCancel = (): void => this.cancel(this.deadline !== undefined && Date.now() + DEADLINE_SLACK_MS >= this.deadline);
    call.on('cancelled', onCancel);
    if (call.cancelled) onCancel();
    if (this.deadline !== undefined && !this.abort.signal.aborted) {
      const left = this.deadline - Date.now();
      if (left <= 0) this.cancel(true);
      else if (left <= MAX_TIMER_MS) this.timer = setTimeout(() => this.cancel(true), left);
    }
  }

  /** Aborts when the gRPC caller cancels or the deadline passes (reason: CANCELLED or TIMEOUT). */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  get log(): ServiceLogger {
    if (this.logger) return this.logger;
    const base = { method: this.method, requestId: this.requestId, via: 'grpc' };
    const line = (level: 'debug' | 'info' | 'warn' | 'error') => (message: string, fields?: Record<string, unknown>) => {
      try {
        this.sink(level, message, fields ? { ...base, ...fields } : base);
      } catch {
        // A failing log sink must not fail the call.
      }
    };
    return (this.logger = { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') });
  }

  private cancel(timedOut: boolean): void {
    if (this.abort.signal.aborted) return;
    clearTimeout(this.timer);
    this.abort.abort(
      timedOut
        ? new PlexusError(ErrorCode.TIMEOUT, `the gRPC deadline of ${this.method} passed`)
        : new PlexusError(ErrorCode.CANCELLED, `the gRPC caller cancelled ${this.method}`),
    );
  }

  /** The call has ended: stop the deadline timer. */
  done(): void {
    clearTimeout(this.timer);
  }
}
