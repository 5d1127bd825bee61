/** What serving a method needs at request time, and how a failed request is reported. */
import type { Codec, CodecRegistry } from '../codec/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import type { LogSink, RequestHandlerContext } from './context.js';
import { ServiceError, toWireError } from './errors.js';
import type { MethodStats } from './stats.js';
import type { MethodDefinition } from './types.js';

/** What a registered method handler needs at request time. */
export interface MethodRuntime {
  readonly what: string;
  readonly def: MethodDefinition;
  readonly handler: (input: unknown, ctx: RequestHandlerContext) => unknown;
  readonly validate: boolean;
  readonly sink: LogSink;
  readonly fallback: Codec;
  readonly registry: CodecRegistry;
  readonly stats: MethodStats;
}

/** Turn a handler's failure into its wire error, logging what the caller will not see. */
export function failRequest(rt: MethodRuntime, ctx: RequestHandlerContext, err: unknown): PlexusError {
  rt.stats.errors++;
  const wire = toWireError(err, rt.what, ctx.requestId);
  if (!(err instanceof ServiceError) && !(err instanceof PlexusError)) {
    ctx.log.error('handler threw an unexpected error', { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  } else if (err instanceof ServiceError && err.code === ErrorCode.VALIDATION && (err.details as { where?: string })?.where === 'output') {
    ctx.log.error('handler returned a value that fails the output schema', { issues: (err.details as { issues?: unknown }).issues });
  }
  return wire;
}
