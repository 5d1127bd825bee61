/** Version ranges for picking service instances. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ErrorCode, PlexusError } from '../../src/errors/index.js';
import { VersionRange, compareVersions, parseVersion, satisfies } from '../../src/discovery/semver.js';

const cases: [range: string, yes: string[], no: string[]][] = [
  ['^2', ['2.0.0', '2.9.1'], ['1.9.9', '3.0.0', '2.0.0-beta.1']],
  ['^2.1.0', ['2.1.0', '2.5.0'], ['2.0.9', '3.0.0']],
  ['^0.2.3', ['0.2.3', '0.2.9'], ['0.3.0', '0.2.2']],
  ['^0.0.3', ['0.0.3'], ['0.0.4']],
  ['~2.1', ['2.1.0', '2.1.7'], ['2.2.0', '2.0.9']],
  ['~2.1.3', ['2.1.3', '2.1.9'], ['2.1.2', '2.2.0']],
  ['2.x', ['2.0.0', '2.3.4'], ['3.0.0', '1.0.0']],
  ['2.1.*', ['2.1.0', '2.1.5'], ['2.2.0']],
  ['*', ['0.0.1', '9.9.9'], ['not-a-version']],
  ['2.1.0', ['2.1.0'], ['2.1.1']],
  ['>=2.3.0', ['2.3.0', '5.0.0'], ['2.2.9']],
  ['>=1.2 <2', ['1.2.0', '1.9.9'], ['2.0.0', '1.1.0']],
  ['>2', ['3.0.0'], ['2.9.9']],
  ['<=1.4', ['1.4.9', '0.1.0'], ['1.5.0']],
  ['^1 || ^3', ['1.2.0', '3.1.0'], ['2.0.0']],
  ['>=2.0.0-beta.2', ['2.0.0-beta.3', '2.0.0', '2.1.0'], ['2.0.0-beta.1', '2.1.0-alpha']],
];

describe('version ranges', () => {
  for (const [range, yes, no] of cases) {
    it(range, () => {
      const r = VersionRange.parse(range);
      for (const v of yes) assert.equal(r.test(v), true, `${v} should satisfy ${range}`);
      for (const v of no) assert.equal(r.test(v), false, `${v} should not satisfy ${range}`);
    });
  }

  it('orders versions with pre-releases before their release', () => {
    const sorted = ['1.0.0', '1.0.0-rc.1', '1.0.0-alpha', '0.9.0', '1.0.0-alpha.2', '1.0.1'].map((v) => parseVersion(v)!).sort(compareVersions);
    assert.deepEqual(
      sorted.map((v) => `${v.major}.${v.minor}.${v.patch}${v.pre.length ? `-${v.pre.join('.')}` : ''}`),
      ['0.9.0', '1.0.0-alpha', '1.0.0-alpha.2', '1.0.0-rc.1', '1.0.0', '1.0.1'],
    );
    assert.equal(parseVersion('1.2'), undefined);
    assert.equal(satisfies('2.4.0', '^2'), true);
  });

  it('refuses what it cannot read, with a code', () => {
    for (const bad of ['^a', '>=>=1', '1.2.3.4', 'x'.repeat(300)]) {
      assert.throws(() => VersionRange.parse(bad), (e: unknown) => e instanceof PlexusError && e.code === ErrorCode.INVALID_ARGUMENT, bad);
    }
  });
});
