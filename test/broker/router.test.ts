import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Router, type Match, type Route } from '../../src/broker/router.js';
import { subjectMatches } from '../../src/wire/index.js';

let nextSid = 1;
function route(subject: string, queue = '', owner = 'o'): Route<string> {
  return { owner, sid: nextSid++, subject, queue };
}

/** Every route in a match, plain and grouped, as a sorted list of sids. */
function sids(m: Match<string>): number[] {
  return [...m.plain, ...m.groups.flatMap((g) => g.members)].map((r) => r.sid).sort((a, b) => a - b);
}

function subjects(m: Match<string>): string[] {
  return [...m.plain, ...m.groups.flatMap((g) => g.members)].map((r) => r.subject).sort();
}

describe('Router', () => {
  it('matches literal subjects exactly', () => {
    const r = new Router<string>();
    r.add(route('a.b.c'));
    r.add(route('a.b'));
    assert.deepEqual(subjects(r.match('a.b.c')), ['a.b.c']);
    assert.deepEqual(subjects(r.match('a.b')), ['a.b']);
    assert.deepEqual(subjects(r.match('a')), []);
    assert.deepEqual(subjects(r.match('a.b.c.d')), []);
    assert.deepEqual(subjects(r.match('a.bc')), []);
  });

  it("'*' matches exactly one token, in any position", () => {
    const r = new Router<string>();
    r.add(route('a.*.c'));
    r.add(route('*.b'));
    r.add(route('*'));
    assert.deepEqual(subjects(r.match('a.x.c')), ['a.*.c']);
    assert.deepEqual(subjects(r.match('a.c')), []);
    assert.deepEqual(subjects(r.match('a.x.y.c')), []);
    assert.deepEqual(subjects(r.match('z.b')), ['*.b']);
    assert.deepEqual(subjects(r.match('z')), ['*']);
  });

  it("'>' matches one or more trailing tokens, never zero", () => {
    const r = new Router<string>();
    r.add(route('a.>'));
    r.add(route('>'));
    assert.deepEqual(subjects(r.match('a')), ['>']);
    assert.deepEqual(subjects(r.match('a.b')), ['>', 'a.>']);
    assert.deepEqual(subjects(r.match('a.b.c.d')), ['>', 'a.>']);
    assert.deepEqual(subjects(r.match('b.c')), ['>']);
  });

  it('a subject matched by several patterns of one subscriber gets each route once', () => {
    const r = new Router<string>();
    const all = [route('a.b'), route('a.*'), route('*.b'), route('a.>'), route('>'), route('*.*')];
    for (const x of all) r.add(x);
    assert.deepEqual(sids(r.match('a.b')), all.map((x) => x.sid).sort((a, b) => a - b));
    assert.equal(r.size, all.length);
  });

  it('collects queue-group members by name, separately from plain routes', () => {
    const r = new Router<string>();
    const p = route('job.*');
    const w1 = route('job.run', 'workers', 'w1');
    const w2 = route('job.*', 'workers', 'w2');
    const o1 = route('job.>', 'others', 'o1');
    for (const x of [p, w1, w2, o1]) r.add(x);
    const m = r.match('job.run');
    assert.deepEqual(m.plain, [p]);
    const groups = Object.fromEntries(m.groups.map((g) => [g.name, g.members.map((x) => x.owner).sort()]));
    assert.deepEqual(groups, { workers: ['w1', 'w2'], others: ['o1'] });
  });

  it('spreads a queue group evenly even when unrelated subscriptions churn between messages', () => {
    // Every add/remove clears the match cache; the round-robin cursor lives in the
    // cached match, so it must not restart at member 0 each time.
    const r = new Router<string>();
    for (const w of ['w1', 'w2', 'w3']) r.add(route('work', 'q', w));
    const counts: Record<string, number> = { w1: 0, w2: 0, w3: 0 };
    for (let i = 0; i < 3000; i++) {
      const churn = route(`other.${i}`);
      r.add(churn);
      const g = r.match('work').groups[0]!;
      counts[g.members[g.next++ % g.members.length]!.owner]!++;
      r.remove(churn);
    }
    for (const [w, n] of Object.entries(counts)) assert.ok(n > 600, `${w} got ${n} of 3000: ${JSON.stringify(counts)}`);
  });

  it('remove() takes out exactly that route and reports whether it was there', () => {
    const r = new Router<string>();
    const a = route('x.y');
    const b = route('x.y');
    const c = route('x.>');
    const d = route('*.y');
    for (const x of [a, b, c, d]) r.add(x);
    assert.equal(r.remove(a), true);
    assert.equal(r.remove(a), false, 'second remove is a no-op');
    assert.deepEqual(sids(r.match('x.y')), [b.sid, c.sid, d.sid].sort((m, n) => m - n));
    assert.equal(r.remove(c), true);
    assert.equal(r.remove(d), true);
    assert.deepEqual(sids(r.match('x.y')), [b.sid]);
    assert.equal(r.remove(route('never.added')), false);
    assert.equal(r.remove(route('x.*.z')), false, 'a path that was never built');
    assert.equal(r.size, 1);
  });

  it('prunes empty trie nodes, and the trie works again after re-adding', () => {
    const r = new Router<string>();
    const deep = route('a.b.c.d.e');
    const star = route('a.*.>');
    r.add(deep);
    r.add(star);
    r.remove(deep);
    r.remove(star);
    assert.equal(r.size, 0);
    // The root has no children left: reach in to prove the prune happened.
    const root = (r as unknown as { root: { children: Map<string, unknown>; star: unknown } }).root;
    assert.equal(root.children.size, 0);
    assert.equal(root.star, undefined);
    const again = route('a.b.c.d.e');
    r.add(again);
    assert.deepEqual(sids(r.match('a.b.c.d.e')), [again.sid]);
  });

  it('invalidates cached matches on add and on remove', () => {
    const r = new Router<string>();
    assert.deepEqual(sids(r.match('c.d')), []); // cached empty result
    const x = route('c.*');
    r.add(x);
    assert.deepEqual(sids(r.match('c.d')), [x.sid], 'add must invalidate the cache');
    const y = route('c.>', 'q');
    r.add(y);
    assert.deepEqual(sids(r.match('c.d')), [x.sid, y.sid]);
    r.remove(x);
    assert.deepEqual(sids(r.match('c.d')), [y.sid], 'remove must invalidate the cache');
    r.remove(y);
    assert.deepEqual(sids(r.match('c.d')), []);
  });

  it('keeps matching correctly when the cache overflows', () => {
    const r = new Router<string>();
    const x = route('s.*');
    r.add(x);
    for (let i = 0; i < 10_000; i++) assert.equal(r.match(`s.${i}`).plain.length, 1);
    assert.equal(r.match('t.1').plain.length, 0);
  });

  it('match agrees with the brute-force subjectMatches over random subjects, patterns, adds and removes', () => {
    const token = fc.constantFrom('a', 'b', 'c', 'dd');
    const subject = fc.array(token, { minLength: 1, maxLength: 5 }).map((t) => t.join('.'));
    const patToken = fc.constantFrom('a', 'b', 'c', 'dd', '*', '*');
    const pattern = fc
      .tuple(fc.array(patToken, { minLength: 1, maxLength: 5 }), fc.boolean())
      .map(([t, tail]) => (tail ? [...t.slice(0, -1), '>'] : t).join('.'));
    const op = fc.oneof(
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('add' as const), pattern, queue: fc.constantFrom('', '', 'q1', 'q2') }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), index: fc.nat() }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('match' as const), subject }) },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.array(subject, { minLength: 1, maxLength: 10 }), (ops, probes) => {
        const r = new Router<string>();
        const live: Route<string>[] = [];
        const check = (s: string): void => {
          const want = live.filter((x) => subjectMatches(x.subject, s)).map((x) => x.sid).sort((a, b) => a - b);
          assert.deepEqual(sids(r.match(s)), want, `match(${s}) over [${live.map((x) => x.subject).join(' ')}]`);
          const m = r.match(s);
          for (const p of m.plain) assert.equal(p.queue, '');
          for (const g of m.groups) for (const p of g.members) assert.equal(p.queue, g.name);
        };
        for (const o of ops) {
          if (o.kind === 'add') {
            const x = route(o.pattern, o.queue);
            live.push(x);
            r.add(x);
          } else if (o.kind === 'remove') {
            if (live.length === 0) continue;
            const [x] = live.splice(o.index % live.length, 1);
            assert.equal(r.remove(x!), true);
          } else check(o.subject);
          assert.equal(r.size, live.length);
        }
        for (const s of probes) check(s);
      }),
      { numRuns: 300 },
    );
  });
});
