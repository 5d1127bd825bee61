/**
 * One app that can share images (S5): it tells the bus "I handle intent.share.image"
 * and answers whoever asks, without knowing who that will be.
 *
 * Usage: PLEXUS_URL=unix:///… node app.js <name> <label>
 */
import { connect, handle } from '../../src/index.js';

const [name = 'app', label = name] = process.argv.slice(2);
const bus = await connect(process.env['PLEXUS_URL'], { name });
const handler = await handle(
  bus,
  'intent.share.image',
  (payload, ctx) => {
    const { file } = payload as { file: string };
    console.log(`${name}: sharing ${file} for ${ctx.from}`);
    return { app: name, sharedAs: `${name}://${file}` };
  },
  { id: name, info: { label, accepts: ['image/png', 'image/jpeg'] } },
);
console.log(`${name}: ready`);

// Leave the registry cleanly on SIGTERM (watchers see `deregistered`; a crash would show `disconnected`).
process.once('SIGTERM', () => {
  void (async () => {
    await handler.close();
    await bus.close();
    process.exit(0);
  })();
});
