import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { join } from 'node:path';
import { runCli, tempDir } from './helpers.js';

const COMMANDS = ['up', 'broker', 'pub', 'sub', 'req', 'reply', 'bench', 'passwd'];

describe('plexus CLI basics', { timeout: 60_000 }, () => {
  it('--help at the top level lists every command and exits 0', async (t) => {
    const r = await runCli(t, ['--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Usage: plexus <command>/);
    for (const c of COMMANDS) assert.match(r.stdout, new RegExp(`^  ${c} `, 'm'));
  });

  it('--help works on every command, even next to other flags', async (t) => {
    for (const c of COMMANDS) {
      const r = await runCli(t, [c, '--help', '--no-such-flag']);
      assert.equal(r.code, 0, `${c}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`Usage: plexus ${c}\\b`));
      assert.match(r.stdout, /--help/);
    }
  });

  it('--version prints the package version', async (t) => {
    const r = await runCli(t, ['--version']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^plexus \d+\.\d+\.\d+/);
  });

  it('a bad flag gives one readable line with a code, exit 2, no stack trace', async (t) => {
    const r = await runCli(t, ['pub', 'greet', 'hi', '--bogus']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^plexus: unknown option '--bogus' \(PLEXUS_ERR_INVALID_ARGUMENT\)$/m);
    assert.match(r.stderr, /plexus pub --help/);
    assert.doesNotMatch(r.stderr, /^\s+at /m);
    assert.equal(r.stdout, '');
  });

  it('bad values, missing arguments and unknown commands are usage errors (exit 2)', async (t) => {
    for (const [args, pattern] of [
      [['pub', 'x', 'y', '--count', 'many'], /--count needs a whole number/],
      [['sub'], /missing SUBJECT/],
      [['frobnicate'], /unknown command "frobnicate"/],
      [['broker', '--slow-consumer', 'sometimes'], /--slow-consumer must be one of block, disconnect, drop/],
      [['up', '--demo-only-seconds', 'soon'], /--demo-only-seconds needs a number of seconds/],
    ] as const) {
      const r = await runCli(t, [...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
      assert.match(r.stderr, /\(PLEXUS_ERR_INVALID_ARGUMENT\)/);
      assert.doesNotMatch(r.stderr, /^\s+at /m);
    }
  });

  it('no broker: a connect error with advice and its code, exit 1; --debug adds the stack', async (t) => {
    const dir = await tempDir(t);
    const env = { PLEXUS_URL: `unix://${join(dir, 'nobody.sock')}` };
    const r = await runCli(t, ['pub', 'greet', 'hi'], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^plexus: cannot connect to .*nobody\.sock.*plexus up.*\(PLEXUS_ERR_CONNECT_FAILED\)$/m);
    assert.doesNotMatch(r.stderr, /^\s+at /m);
    const d = await runCli(t, ['pub', 'greet', 'hi', '--debug'], env);
    assert.equal(d.code, 1);
    assert.match(d.stderr, /^\s+at /m);
  });

  it('passwd hashes the first line of piped stdin', async (t) => {
    const r = await runCli(t, ['passwd'], {}, { input: 'correct horse\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.trim(), /^scrypt:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
  });
});
