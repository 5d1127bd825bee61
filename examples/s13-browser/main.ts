/**
 * S13 — Plexus in a browser: the page (index.html + app.js) uses the browser build
 * (dist/browser/plexus.js, no Node built-ins) over the broker's `ws://` listener to
 * subscribe, publish text and binary, call services a Node process answers, and see a
 * coded error cross the wire.
 *
 * Usage:
 *   npm run build            # tsc + dist/browser/plexus.js
 *   node dist/examples/s13-browser/main.js
 * then open the printed URL in a browser; Ctrl-C stops.
 */
import { startS13Demo } from './server.js';

const demo = await startS13Demo();
console.log(`broker (WebSocket): ${demo.brokerUrl}`);
console.log(`open: ${demo.pageUrl}`);
const stop = (): void => {
  demo.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
