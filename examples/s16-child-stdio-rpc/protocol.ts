/**
 * The contract between the S16 parent and its child: subjects, request/reply types and
 * event types, plus a typed `call` so the parent cannot send the wrong shape.
 */
import type { Connection, RequestOptions } from '../../src/index.js';

/** Sum `numbers`, one per step, sleeping `stepDelayMs` per step (to have progress to report). */
export interface SumRequest {
  readonly id: string;
  readonly numbers: readonly number[];
  readonly stepDelayMs: number;
}

export interface SumReply {
  readonly id: string;
  readonly sum: number;
}

/** What the child publishes on `child.event.<kind>`. */
export type ChildEvent =
  | { readonly kind: 'ready'; readonly pid: number }
  | { readonly kind: 'progress'; readonly id: string; readonly done: number; readonly total: number; readonly partial: number }
  | { readonly kind: 'cancelled'; readonly id: string; readonly done: number; readonly reason: string }
  | { readonly kind: 'finished'; readonly id: string; readonly sum: number };

/** Request subjects and their types. */
export interface ChildApi {
  'child.sum': { request: SumRequest; reply: SumReply };
}

/** Events: `child.event.ready`, `child.event.progress`, ... */
export const EVENTS = 'child.event.*';
export const eventSubject = (e: ChildEvent): string => `child.event.${e.kind}`;

/** A typed request to the child. */
export async function call<S extends keyof ChildApi>(
  bus: Connection,
  subject: S,
  request: ChildApi[S]['request'],
  options?: RequestOptions,
): Promise<ChildApi[S]['reply']> {
  const reply = await bus.request(subject, JSON.stringify(request), options);
  return reply.json<ChildApi[S]['reply']>();
}
