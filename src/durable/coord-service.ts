/**
 * The coordination side of the durable service: answers `$PLX.CO.<KIND>.<OP>.<name>`
 * for locks and semaphores (leases, src/durable/coord-leases.ts), barriers and
 * condition variables. Every wait is a request the service holds open — up to the
 * caller's `waitMs` and never past its deadline — and answers when the wait is over, so
 * nobody polls; a caller that cancels or disconnects leaves the queue at once (the
 * broker forwards that as a cancel). See docs/coordination.md.
 */
import { join } from 'node:path';
import type { Connection, Message, RequestContext, Subscription } from '../client/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import {
  CO_PREFIX,
  CoKind,
  CoOp,
  MAX_PERMITS,
  MAX_TTL_MS,
  MAX_WAITERS,
  MAX_WAIT_MS,
  MIN_TTL_MS,
  checkCoName,
  checkOwner,
  intField,
  type AcquireReply,
} from './coord-config.js';
import { Barriers, held } from './coord-barriers.js';
import { Leases, type LeaseKind } from './coord-leases.js';
import type { Fence } from './kv-config.js';

type CondWaiter = (notified: boolean) => void;

function bad(message: string): PlexusError {
  return new PlexusError(ErrorCode.INVALID_ARGUMENT, message);
}

function body(msg: Message): Record<string, unknown> {
  if (msg.data.length === 0) return {};
  let v: unknown;
  try {
    v = msg.json();
  } catch {
    throw bad('request payload must be JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('request payload must be a JSON object');
  return v as Record<string, unknown>;
}

/** Locks, semaphores, barriers and condition variables of one service. */
export class CoordService {
  private readonly conds = new Map<string, CondWaiter[]>();
  private sub: Subscription | undefined;
  private closing = false;

  private constructor(
    readonly leases: Leases,
    private readonly barriers: Barriers,
  ) {}

  /** Load leases and barrier generations from `<dir>/coord` and start answering `$PLX.CO.>`. */
  static async start(bus: Connection, dir: string, onError: (err: unknown) => void): Promise<CoordService> {
    const leases = await Leases.open(dir, onError);
    const svc = new CoordService(leases, await Barriers.open(join(dir, 'coord')));
    svc.sub = bus.serve(`${CO_PREFIX}.>`, (msg, ctx) => svc.handle(msg, ctx), { queue: '_co' });
    return svc;
  }

  /** The fence check KV writes use (FENCE_STALE unless the token's lease is live). */
  checkFence(fence: Fence): void {
    this.leases.checkFence(fence);
  }

  private async handle(msg: Message, ctx: RequestContext): Promise<string> {
    if (this.closing) throw new PlexusError(ErrorCode.SHUTTING_DOWN, 'the coordination service is closing');
    // $PLX.CO.<KIND>.<OP>.<name>
    const t = msg.subject.split('.');
    const name = checkCoName(t.slice(4).join('.'));
    const b = body(msg);
    // Never hold a wait past the caller's deadline: the answer would go nowhere.
    let wait = intField(b, 'waitMs', 0, MAX_WAIT_MS, 0);
    if (msg.timeoutMs > 0) wait = Math.max(0, Math.min(wait, msg.timeoutMs - 250));
    return JSON.stringify(await this.dispatch(t[2], t[3], name, b, wait, ctx.signal));
  }

  private async dispatch(kind: string | undefined, op: string | undefined, name: string, b: Record<string, unknown>, wait: number, signal: AbortSignal): Promise<unknown> {
    if (kind === CoKind.LOCK || kind === CoKind.SEMAPHORE) {
      const lk: LeaseKind = kind === CoKind.LOCK ? 'lock' : 'sem';
      switch (op) {
        case CoOp.ACQUIRE: {
          const limit = lk === 'lock' ? 1 : intField(b, 'permits', 1, MAX_PERMITS);
          const ttlMs = intField(b, 'ttlMs', MIN_TTL_MS, MAX_TTL_MS);
          const lease = await this.leases.acquire(lk, name, { owner: checkOwner(b.owner), ttlMs, limit, waitMs: wait, signal });
          const reply: AcquireReply = lease ? { acquired: true, ...lease } : { acquired: false };
          return reply;
        }
        case CoOp.RENEW:
          return this.leases.renew(lk, name, checkOwner(b.owner), intField(b, 'token', 1, Number.MAX_SAFE_INTEGER), intField(b, 'ttlMs', MIN_TTL_MS, MAX_TTL_MS));
        case CoOp.RELEASE: {
          const token = b.token === undefined ? undefined : intField(b, 'token', 1, Number.MAX_SAFE_INTEGER);
          return this.leases.release(lk, name, checkOwner(b.owner), token);
        }
        case CoOp.INFO:
          return this.leases.info(lk, name);
        default:
          break;
      }
    } else if (kind === CoKind.BARRIER && op === CoOp.WAIT) {
      return this.barriers.wait(name, intField(b, 'parties', 1, MAX_PERMITS), checkOwner(b.party, 'party'), wait, signal);
    } else if (kind === CoKind.COND && op === CoOp.WAIT) {
      return this.condWait(name, b, wait, signal);
    } else if (kind === CoKind.COND && op === CoOp.NOTIFY) {
      return this.condNotify(name, b.all === true);
    }
    throw bad(`unknown coordination operation ${String(kind)}.${String(op)}`);
  }

  // ---- condition variables ----------------------------------------------------------

  /**
   * Release the caller's lock lease and wait for a notify on `name`, atomically: the
   * waiter is queued before the lock is given up, so a notify sent by the next holder
   * cannot be missed. The caller re-acquires the lock itself afterwards.
   */
  private async condWait(name: string, b: Record<string, unknown>, wait: number, signal: AbortSignal): Promise<unknown> {
    const lock = checkCoName(b.lock);
    const owner = checkOwner(b.owner);
    const token = intField(b, 'token', 1, Number.MAX_SAFE_INTEGER);
    if (!this.leases.holds('lock', lock, owner, token)) {
      throw new PlexusError(ErrorCode.LEASE_LOST, `wait on ${name} needs a live lease on lock ${lock}`, { details: { lock, token } });
    }
    let list = this.conds.get(name);
    if (!list) this.conds.set(name, (list = []));
    const waiters = list;
    if (waiters.length >= MAX_WAITERS) throw bad(`more than ${MAX_WAITERS} waiters on condition ${name}`);
    let saved: Promise<void> = Promise.resolve();
    const notified = await held(wait, signal, false, (done) => {
      waiters.push(done);
      this.leases.drop('lock', lock, owner, token);
      saved = this.leases.save();
      return () => {
        const i = waiters.indexOf(done);
        if (i >= 0) waiters.splice(i, 1);
        if (waiters.length === 0 && this.conds.get(name) === waiters) this.conds.delete(name);
      };
    });
    await saved;
    return { notified };
  }

  /** Wake the oldest waiter on `name` (or all of them); replies how many were woken. */
  private condNotify(name: string, all: boolean): unknown {
    const waiters = this.conds.get(name);
    if (!waiters || waiters.length === 0) return { woken: 0 };
    const woken = all ? waiters.splice(0) : waiters.splice(0, 1);
    if (waiters.length === 0) this.conds.delete(name);
    for (const w of woken) w(true);
    return { woken: woken.length };
  }

  /** Stop answering; end held waits; save the leases. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.sub?.unsubscribe();
    await this.barriers.close();
    for (const list of this.conds.values()) for (const w of list) w(false);
    this.conds.clear();
    await this.leases.close();
  }
}
