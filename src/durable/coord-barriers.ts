/**
 * Barriers of the coordination service, with the part of their state that must outlive
 * a restart saved in `<dir>/coord/barriers.json`:
 *
 * - the **generation** of every barrier, so a restarted service never hands out a
 *   generation number twice for different rounds;
 * - the parties of the **last release** of each barrier, so a party whose "released"
 *   reply was lost in a crash gets it when it asks again (clients retry with the same
 *   party id) instead of waiting for a round that already happened.
 *
 * The parties waiting right now are not saved: an arrival lasts only as long as its
 * held request (its lease). When the service restarts, every live party asks again
 * with its party id and so arrives again; a party that died meanwhile never does, so
 * it is never counted. A release is saved before it is answered.
 */
import { join } from 'node:path';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { MAX_WAITERS } from './coord-config.js';
import { CoalescingWriter, readJson } from './files.js';

/** How long the parties of a release are remembered for a retried request (2 × the longest held wait). */
const RELEASED_MEMORY_MS = 120_000;
/** Most barrier names whose generation is remembered; the least recently used are forgotten past this. */
const MAX_REMEMBERED = 100_000;

/** What a barrier wait is answered with. */
export type BarrierReply = { readonly released: true; readonly generation: number } | { readonly released: false };

/** Wait on `register`ed callbacks up to `ms` or until `signal`; `leave` removes the callback. */
export function held<T>(ms: number, signal: AbortSignal, onTimeout: T, register: (done: (v: T) => void) => () => void): Promise<T> {
  return new Promise<T>((resolve) => {
    let leave: () => void = () => undefined;
    const done = (v: T): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', gone);
      resolve(v);
    };
    const gone = (): void => {
      leave();
      done(onTimeout);
    };
    const timer = setTimeout(gone, ms);
    signal.addEventListener('abort', gone, { once: true });
    leave = register(done);
    if (signal.aborted) gone();
  });
}

interface Round {
  readonly parties: number;
  readonly arrived: Map<string, (released: boolean) => void>;
}

interface Saved {
  /** The generation the next release completes. */
  generation: number;
  /** The last release: its generation, parties and when. */
  last?: { generation: number; parties: string[]; at: number };
}

/** Every barrier of one service. */
export class Barriers {
  private readonly rounds = new Map<string, Round>();
  private readonly saved = new Map<string, Saved>();
  private readonly writer: CoalescingWriter;

  private constructor(dir: string) {
    this.writer = new CoalescingWriter(join(dir, 'barriers.json'), () => this.snapshot());
  }

  /** Load saved generations from `<dir>/barriers.json` (`dir` exists). */
  static async open(dir: string): Promise<Barriers> {
    const b = new Barriers(dir);
    const raw = (await readJson(join(dir, 'barriers.json'))) as { barriers?: Record<string, Saved> } | undefined;
    for (const [name, s] of Object.entries(raw?.barriers ?? {})) {
      if (Number.isSafeInteger(s.generation) && s.generation >= 1) b.saved.set(name, s);
    }
    return b;
  }

  private snapshot(): string {
    const now = Date.now();
    const barriers: Record<string, Saved> = {};
    for (const [name, s] of this.saved) {
      if (s.last && now - s.last.at > RELEASED_MEMORY_MS) delete s.last;
      barriers[name] = s;
    }
    return JSON.stringify({ barriers });
  }

  /**
   * Arrive at `name` of `parties` as `party` and wait (the request is held open) until that many
   * are there; all are answered together with the generation they completed.
   */
  async wait(name: string, parties: number, party: string, waitMs: number, signal: AbortSignal): Promise<BarrierReply> {
    const s = this.saved.get(name);
    // Asked again after a release whose reply it may have missed (a restart, a lost reply).
    if (s?.last?.parties.includes(party)) return { released: true, generation: s.last.generation };
    let round = this.rounds.get(name);
    if (round && round.parties !== parties) {
      throw new PlexusError(ErrorCode.DURABLE_EXISTS, `barrier ${name} is waiting for ${round.parties} parties, not ${parties}`, {
        details: { name, parties: round.parties },
      });
    }
    if (!round) this.rounds.set(name, (round = { parties, arrived: new Map() }));
    const r = round;
    if (!r.arrived.has(party) && r.arrived.size >= MAX_WAITERS) {
      throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `more than ${MAX_WAITERS} parties waiting on barrier ${name}`);
    }
    let releasing: Promise<number> | undefined;
    const released = await held(waitMs, signal, false, (done) => {
      r.arrived.get(party)?.(false); // the same party asked again: its older request ends
      r.arrived.set(party, done);
      if (r.arrived.size >= r.parties) releasing = this.release(name, r);
      return () => {
        if (r.arrived.get(party) === done) r.arrived.delete(party);
        if (r.arrived.size === 0 && this.rounds.get(name) === r) this.rounds.delete(name);
      };
    });
    if (!released) return { released: false };
    // Every party of the round awaits the same save (or the one that completed it does).
    const generation = await (releasing ?? this.releasing.get(name) ?? Promise.resolve(this.saved.get(name)?.last?.generation ?? 1));
    return { released: true, generation };
  }

  /** Saves of releases in flight, by barrier (awaited by every released party). */
  private readonly releasing = new Map<string, Promise<number>>();

  /** Complete the round: bump and save the generation, then let every party go. */
  private release(name: string, r: Round): Promise<number> {
    const parties = [...r.arrived.keys()];
    const waiters = [...r.arrived.values()];
    r.arrived.clear();
    this.rounds.delete(name);
    const s = this.saved.get(name) ?? { generation: 1 };
    const generation = s.generation;
    this.saved.delete(name); // re-inserted last: the map's order is least recently used first
    this.saved.set(name, { generation: generation + 1, last: { generation, parties, at: Date.now() } });
    this.forgetOldest();
    const p = this.writer.save().then(() => generation);
    this.releasing.set(name, p);
    const forget = (): void => {
      if (this.releasing.get(name) === p) this.releasing.delete(name);
    };
    p.then(forget, forget);
    // Answered only after the save: a restart then never repeats this generation, and a
    // party that missed the reply finds its release in the saved state.
    for (const d of waiters) d(true);
    return p;
  }

  private forgetOldest(): void {
    for (const name of this.saved.keys()) {
      if (this.saved.size <= MAX_REMEMBERED) break;
      if (!this.rounds.has(name)) this.saved.delete(name);
    }
  }

  /** End every held wait (callers retry against the next service) and flush the state. */
  async close(): Promise<void> {
    for (const r of this.rounds.values()) for (const d of r.arrived.values()) d(false);
    this.rounds.clear();
    await this.writer.idle();
  }
}
