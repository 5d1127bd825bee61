import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeRun, runExample } from './run-example.js';

/** Worked out by hand from the example's subscriptions and messages. */
const EXPECTED: Record<string, string[]> = {
  'all-orders': ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9', 'm14'],
  'eu-orders': ['m1', 'm2', 'm6', 'm7'], // orders.> with region=eu exactly (not EU)
  created: ['m1', 'm3', 'm8', 'm14'], // exactly three tokens ending in created
  'us-urgent': ['m3', 'm5'], // both filter keys must match
  alerts: ['m10', 'm12'], // severity present, any value; not alerts.disk
  'eu-shipper': ['m2'],
  'us-shipper': ['m4'], // m9 (apac) passes neither member's filter
  '(nobody)': ['m11', 'm13'],
};

describe('example s12-pubsub-filters', { timeout: 30_000 }, () => {
  it('each subscriber gets exactly the messages its subject pattern and header filter select', async (t) => {
    const run = await runExample(t, 's12-pubsub-filters', [], 15_000);
    const why = describeRun(run);
    assert.equal(run.code, 0, why);
    assert.equal(run.stderr, '', why);
    const start = run.lines.indexOf('deliveries:');
    assert.ok(start >= 0, why);
    const actual: Record<string, string[]> = {};
    for (const line of run.lines.slice(start + 1)) {
      const m = /^(\S+) .*<- (.*)$/.exec(line);
      assert.ok(m, `unexpected line ${JSON.stringify(line)}\n${why}`);
      actual[m[1]!] = m[2] === '(nothing)' ? [] : m[2]!.split(' ');
    }
    assert.deepEqual(actual, EXPECTED, why);
  });
});
