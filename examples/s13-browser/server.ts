/**
 * The Node side of S13: a broker with a `ws://` listener, a Node process's services the
 * page calls, and a tiny static server for the page and the browser bundle. Used by
 * main.ts (run by hand) and by the test (which drives headless Chromium at it).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { connect, startBroker, type Broker, type Connection } from '../../src/index.js';

/** Where the page's files are (this folder in the source tree, also from dist/). */
const PAGE_DIR = new URL('../../../examples/s13-browser/', import.meta.url);
/** The default bundle: `npm run build:browser` writes it. */
const DEFAULT_BUNDLE = fileURLToPath(new URL('../../browser/plexus.js', import.meta.url));

/** What the page did, as the Node side saw it. */
export interface PageActivity {
  /** Payloads of `page.hello` messages. */
  readonly hellos: string[];
  /** SHA-256 (hex) of each binary payload the page sent to `page.bytes`. */
  readonly byteHashes: string[];
  /** Who the broker said sent them (the page's connection identity). */
  readonly greetedFrom: string[];
}

/** A running demo. */
export interface S13Demo {
  /** Open this in a browser. */
  readonly pageUrl: string;
  /** The broker's WebSocket address the page connects to. */
  readonly brokerUrl: string;
  readonly activity: PageActivity;
  close(): Promise<void>;
}

/** Options for {@link startS13Demo}. */
export interface S13DemoOptions {
  /** The browser bundle to serve as /plexus.js. @default dist/browser/plexus.js */
  readonly bundlePath?: string;
}

/** Files the static server hands out, and nothing else (no paths from the request). */
const FILES: Readonly<Record<string, { file: 'bundle' | string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/plexus.js': { file: 'bundle', type: 'text/javascript; charset=utf-8' },
};

/** Start the broker, the Node services and the page server on loopback ports. */
export async function startS13Demo(options: S13DemoOptions = {}): Promise<S13Demo> {
  const bundlePath = options.bundlePath ?? DEFAULT_BUNDLE;
  const bundle = await readFile(bundlePath).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`no browser bundle at ${bundlePath} (${err.code}); run \`npm run build:browser\` first`);
  });
  const files = new Map<string, Buffer>([['bundle', bundle]]);
  for (const name of ['index.html', 'app.js']) files.set(name, await readFile(new URL(name, PAGE_DIR)));

  let broker: Broker | undefined;
  let node: Connection | undefined;
  let http: Server | undefined;
  try {
    broker = await startBroker({ listen: ['ws://127.0.0.1:0/'] });
    const brokerUrl = broker.urls[0]!;
    node = await connect(brokerUrl, { name: 'node-services' });
    const activity: PageActivity = { hellos: [], byteHashes: [], greetedFrom: [] };
    const bus = node;

    // The page says hello; the Node process answers with three news items.
    void (async () => {
      for await (const m of bus.subscribe('page.hello')) {
        activity.hellos.push(m.string());
        for (let i = 1; i <= 3; i++) bus.publish(`news.n${i}`, `item ${i}`);
      }
    })();
    bus.serve('page.bytes', (m) => {
      const hash = createHash('sha256').update(m.data).digest('hex');
      activity.byteHashes.push(hash);
      return hash;
    });
    bus.serve('greet', (m) => {
      activity.greetedFrom.push(m.fromConnection);
      return `hello ${m.string()}, from Node ${process.version}`;
    });
    await bus.flush();

    http = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      // Browsers ask for it unprompted; "no content" keeps their console clean.
      if (path === '/favicon.ico') {
        res.writeHead(204).end();
        return;
      }
      const entry = FILES[path];
      if (req.method !== 'GET' || !entry) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      res.writeHead(200, { 'content-type': entry.type, 'cache-control': 'no-store' }).end(files.get(entry.file));
    });
    const server = http;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const pageUrl = `http://127.0.0.1:${port}/?broker=${encodeURIComponent(brokerUrl)}`;
    const b = broker;
    return {
      pageUrl,
      brokerUrl,
      activity,
      close: async () => {
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
        await bus.close();
        await b.close({ drainMs: 100 });
      },
    };
  } catch (err) {
    http?.close();
    await node?.close();
    await broker?.close({ drainMs: 0 });
    throw err;
  }
}
