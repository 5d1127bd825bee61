import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeRun, runExample } from './run-example.js';

describe('example s5-intents', { timeout: 40_000 }, () => {
  it('a gallery shares through apps it never names: first, all, a chooser, and no handler', async (t) => {
    const run = await runExample(t, 's5-intents', [], 30_000);
    const why = describeRun(run);
    assert.equal(run.code, 0, why);
    assert.equal(run.stderr, '', why);
    const line = (prefix: string): string => {
      const found = run.lines.find((l) => l.startsWith(prefix));
      assert.ok(found, `no line starting with ${JSON.stringify(prefix)}\n${why}`);
      return found;
    };
    assert.match(line('first: '), /^first: (mail \(Mail\)|chat \(Chat\))$/, why);
    assert.equal(line('all: '), 'all: chat=chat://dog.png mail=mail://dog.png', why);
    assert.equal(line('choose from: '), 'choose from: Chat, Mail', why);
    assert.equal(line('chosen: '), 'chosen: chat://owl.png', why);
    // Only the chosen app saw owl.png.
    assert.deepEqual(run.lines.filter((l) => l.includes('owl.png for')), ['chat: sharing owl.png for anonymous'], why);
    assert.equal(line('video: '), 'video: PLEXUS_ERR_NO_RESPONDERS', why);
    const registry = run.lines.filter((l) => l.startsWith('registry: ')).sort();
    assert.deepEqual(registry, ['registry: down chat (deregistered)', 'registry: down mail (deregistered)', 'registry: up chat', 'registry: up mail'], why);
    assert.equal(run.lines.at(-1), 'done', why);
  });
});
