/**
 * The listen-and-dial transports under test, each able to set up a fresh address with
 * its options, plus a helper that connects one framed pair over it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import {
  FramedTransport,
  InprocHub,
  dial,
  listen,
  type ByteChannel,
  type DialOptions,
  type FramedTransportOptions,
  type ListenOptions,
  type Listener,
} from '../../src/transports/index.js';
import { sharedTestCerts } from '../helpers/certs.js';
import { FrameCollector } from '../helpers/frames.js';
import { withTimeout } from '../helpers/timeout.js';

/** Where and how to listen and dial for one test. */
export interface Endpoint {
  readonly address: string;
  readonly listenOptions: ListenOptions;
  readonly dialOptions: DialOptions;
}

/** One transport scheme under test. */
export interface TransportCase {
  readonly name: string;
  /** Expected `info.kind` on both ends. */
  readonly kind: string;
  /** Make a fresh endpoint; registers its cleanup on `t`. */
  endpoint(t: TestContext): Promise<Endpoint>;
}

/** A temp dir for Unix sockets, removed after the test. */
export async function tempDir(t: TestContext, prefix = 'plexus-t-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export const transportCases: readonly TransportCase[] = [
  {
    name: 'inproc',
    kind: 'inproc',
    async endpoint() {
      const hub = new InprocHub();
      return { address: 'inproc://roundtrip', listenOptions: { inproc: hub }, dialOptions: { inproc: hub } };
    },
  },
  {
    name: 'unix',
    kind: 'unix',
    async endpoint(t) {
      const dir = await tempDir(t);
      return { address: `unix://${join(dir, 'p.sock')}`, listenOptions: {}, dialOptions: {} };
    },
  },
  {
    name: 'tcp',
    kind: 'tcp',
    async endpoint() {
      return { address: 'tcp://127.0.0.1:0', listenOptions: {}, dialOptions: {} };
    },
  },
  {
    name: 'tls',
    kind: 'tls',
    async endpoint() {
      const c = await sharedTestCerts();
      return {
        address: 'tls://127.0.0.1:0',
        listenOptions: { tls: { cert: c.serverCert, key: c.serverKey } },
        dialOptions: { tls: { ca: c.ca } },
      };
    },
  },
  {
    name: 'ws',
    kind: 'ws',
    async endpoint() {
      return { address: 'ws://127.0.0.1:0/plexus', listenOptions: {}, dialOptions: {} };
    },
  },
  {
    name: 'wss',
    kind: 'wss',
    async endpoint() {
      const c = await sharedTestCerts();
      return {
        address: 'wss://127.0.0.1:0/',
        listenOptions: { tls: { cert: c.serverCert, key: c.serverKey } },
        dialOptions: { tls: { ca: c.ca } },
      };
    },
  },
];

/** Both ends of one framed connection, with the sinks recording them. */
export interface FramedPair {
  readonly listener: Listener;
  readonly client: FramedTransport;
  readonly server: FramedTransport;
  readonly clientSink: FrameCollector;
  readonly serverSink: FrameCollector;
}

/**
 * Listen on `ep`, dial it, wrap both ends in FramedTransport and start them. Everything
 * is destroyed / closed after the test.
 */
export async function connectFramed(
  t: TestContext,
  ep: Endpoint,
  options: FramedTransportOptions = {},
): Promise<FramedPair> {
  let onAccept!: (ch: ByteChannel) => void;
  const accepted = new Promise<ByteChannel>((resolve) => (onAccept = resolve));
  const listener = await withTimeout(
    listen(ep.address, ep.listenOptions, (ch) => onAccept(ch)),
    5000,
    `listen ${ep.address}`,
  );
  const ends: FramedTransport[] = [];
  // One teardown, in a safe order: connections first, then the listener.
  t.after(async () => {
    ends.forEach((e) => e.destroy());
    await withTimeout(listener.close(), 3000, 'listener.close()');
  });
  const clientChannel = await withTimeout(dial(listener.url, ep.dialOptions), 5000, `dial ${listener.url}`);
  const client = new FramedTransport(clientChannel, options);
  ends.push(client);
  const clientSink = new FrameCollector();
  client.start(clientSink);
  const server = new FramedTransport(await withTimeout(accepted, 5000, 'accept'), options);
  ends.push(server);
  const serverSink = new FrameCollector();
  server.start(serverSink);
  return { listener, client, server, clientSink, serverSink };
}
