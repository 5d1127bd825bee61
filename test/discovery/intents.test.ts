/** Intents (S5): callers name a capability, handlers are discovered. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { handle, intent, services } from '../../src/discovery/index.js';
import { ErrorCode, PlexusError } from '../../src/errors/index.js';
import { Cleanup, startTestBroker } from '../helpers/plexus.js';
import { rejection, rejectionCode, within } from '../helpers/wait.js';

const SHARE = 'intent.share.image';

describe('intents', { timeout: 30_000 }, () => {
  it('first, all and a chooser reach handlers the caller never named', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c);
    const mail = await b.connect({ name: 'mail-app' });
    const chat = await b.connect({ name: 'chat-app' });
    const caller = await b.connect({ name: 'gallery' });
    const got: string[] = [];
    await handle(mail, SHARE, (p) => {
      got.push(`mail:${(p as { file: string }).file}`);
      return { sentBy: 'mail' };
    }, { info: { label: 'Mail' }, id: 'mail' });
    await handle(chat, SHARE, (p, ctx) => {
      got.push(`chat:${(p as { file: string }).file}:${ctx.from}`);
      return { sentBy: 'chat' };
    }, { info: { label: 'Chat' }, id: 'chat' });

    const first = await intent<{ sentBy: string }>(caller, SHARE, { file: 'cat.png' }, { timeoutMs: 3000 });
    assert.ok(['mail', 'chat'].includes(first.value.sentBy));
    assert.equal(first.handler.id, first.value.sentBy);

    const all = await intent<{ sentBy: string }>(caller, SHARE, { file: 'dog.png' }, { pick: 'all', timeoutMs: 3000 });
    assert.deepEqual(all.map((o) => [o.handler.id, o.value?.sentBy]).sort(), [['chat', 'chat'], ['mail', 'mail']]);
    assert.equal(all.find((o) => o.handler.id === 'chat')!.handler.metadata['label'], 'Chat');

    let offered: string[] = [];
    const chosen = await intent<{ sentBy: string }>(caller, SHARE, { file: 'owl.png' }, {
      pick: (handlers) => {
        offered = handlers.map((h) => String(h.metadata['label'])).sort();
        return handlers.find((h) => h.metadata['label'] === 'Chat');
      },
    });
    assert.deepEqual(offered, ['Chat', 'Mail']);
    assert.equal(chosen.value.sentBy, 'chat');
    // The chooser's pick alone got owl.png.
    assert.deepEqual(got.filter((g) => g.includes('owl')), ['chat:owl.png:anonymous']);
    assert.equal(await rejectionCode(intent(caller, SHARE, {}, { pick: () => undefined }), 3000), ErrorCode.CANCELLED);
  });

  it('no handler is a coded error at once; a failing handler does not hide a working one', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c);
    const caller = await b.connect();
    // Bounded well below the intent's own timeout: "at once" means no waiting for it.
    assert.equal(await rejectionCode(within(intent(caller, 'intent.nobody', {}, { timeoutMs: 20_000 }), 3000), 4000), ErrorCode.NO_RESPONDERS);

    const broken = await b.connect();
    const working = await b.connect();
    await handle(broken, SHARE, () => {
      throw new PlexusError(ErrorCode.INVALID_ARGUMENT, 'cannot share that');
    }, { id: 'broken' });
    const ok = await handle(working, SHARE, async () => 'shared', { id: 'working' });
    const first = await intent(caller, SHARE, { file: 'x' }, { timeoutMs: 3000 });
    assert.equal(first.value, 'shared');
    const all = await intent(caller, SHARE, { file: 'x' }, { pick: 'all', timeoutMs: 3000 });
    const failed = all.find((o) => o.handler.id === 'broken')!;
    assert.ok(failed.error instanceof PlexusError);
    assert.equal(failed.error.code, ErrorCode.INVALID_ARGUMENT);
    assert.equal(failed.error.message, 'cannot share that');

    // Only the broken one left: `first` reports its error.
    await ok.close();
    assert.deepEqual((await services(caller).list(SHARE)).map((i) => i.id), ['broken']);
    const err = await rejection(intent(caller, SHARE, {}, { timeoutMs: 3000 }), 4000);
    assert.ok(err instanceof PlexusError);
    assert.equal(err.code, ErrorCode.INVALID_ARGUMENT);
    // The handler's stats count both kinds of outcome.
    const [stats] = await services(caller).stats(SHARE);
    assert.equal(stats!.endpoints['handle']!.errors, stats!.endpoints['handle']!.requests);
    assert.ok(stats!.endpoints['handle']!.requests >= 2);
  });
});
