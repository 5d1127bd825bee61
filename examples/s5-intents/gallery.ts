/**
 * The app that shares (S5): it asks for "intent.share.image" and never names the apps
 * that handle it — first answer, every answer, or the one a chooser (the user) picks.
 *
 * Usage: PLEXUS_URL=unix:///… node gallery.js
 */
import { PlexusError, connect, intent } from '../../src/index.js';

interface Shared {
  readonly app: string;
  readonly sharedAs: string;
}

const bus = await connect(process.env['PLEXUS_URL'], { name: 'gallery' });
try {
  const first = await intent<Shared>(bus, 'intent.share.image', { file: 'cat.png' }, { pick: 'first', timeoutMs: 3000 });
  console.log(`first: ${first.value.app} (${first.handler.metadata['label']})`);

  const all = await intent<Shared>(bus, 'intent.share.image', { file: 'dog.png' }, { pick: 'all', timeoutMs: 3000 });
  const answers = all.map((o) => (o.error ? `${o.handler.id}=error:${o.error.code}` : `${o.handler.id}=${o.value.sharedAs}`)).sort();
  console.log(`all: ${answers.join(' ')}`);

  // A chooser sees every handler's registration (label, accepted types) before anything is sent.
  const chosen = await intent<Shared>(bus, 'intent.share.image', { file: 'owl.png' }, {
    pick: (handlers) => {
      console.log(`choose from: ${handlers.map((h) => String(h.metadata['label'])).sort().join(', ')}`);
      return handlers.find((h) => h.metadata['label'] === 'Chat');
    },
  });
  console.log(`chosen: ${chosen.value.sharedAs}`);

  try {
    await intent(bus, 'intent.share.video', { file: 'clip.mp4' });
  } catch (err) {
    console.log(`video: ${(err as PlexusError).code}`);
  }
} finally {
  await bus.close();
}
