/**
 * The conformance suite: one set of test bodies, run against every target. A feature
 * the target's backend does not give (per CAPABILITIES) is reported as
 * `not supported by <backend>: <reason>` through `t.skip`, never silently dropped.
 */
import { test } from 'node:test';
import { unsupportedReason } from '../../src/index.js';
import { Cleanup } from '../helpers/plexus.js';
import { CASES } from './cases.js';
import { DURABLE_CASES } from './durable-cases.js';
import type { Target } from './targets.js';

/** Register every case for `target`. */
export function runConformance(target: Target): void {
  for (const c of [...CASES, ...DURABLE_CASES]) {
    test(`[${target.backend}] ${c.name}`, async (t) => {
      const reason = unsupportedReason(target.backend, c.feature);
      if (reason !== undefined) {
        t.skip(`not supported by ${target.backend}: ${reason}`);
        return;
      }
      const cleanup = new Cleanup(t);
      const session = await target.open(cleanup);
      await c.run(session, t);
    });
  }
}
