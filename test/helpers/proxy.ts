/**
 * A TCP proxy in front of a broker, so a test can cut one client's connection (both
 * directions, abruptly) while the broker and every other client carry on.
 */
import net from 'node:net';
import type { Cleanup } from './plexus.js';

/** A running proxy. */
export interface TcpProxy {
  /** `tcp://127.0.0.1:<port>` of the proxy. */
  readonly url: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Destroy every connection through the proxy now; new ones are still accepted. */
  cut(): void;
  /** While true, new connections are refused (closed at once). */
  refuse: boolean;
}

/** Start a proxy to the `tcp://` address `target`; closed when the test ends. */
export async function startProxy(cleanup: Cleanup, target: string): Promise<TcpProxy> {
  const t = new URL(target);
  const pairs = new Set<[net.Socket, net.Socket]>();
  let accepted = 0;
  const state = { refuse: false };
  const server = net.createServer((client) => {
    accepted++;
    if (state.refuse) {
      client.destroy();
      return;
    }
    const upstream = net.connect({ host: t.hostname, port: Number(t.port) });
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    const done = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', done).on('close', done);
    upstream.on('error', done).on('close', done);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  const cut = (): void => {
    for (const [a, b] of [...pairs]) {
      a.destroy();
      b.destroy();
    }
    pairs.clear();
  };
  cleanup.defer(
    () =>
      new Promise<void>((resolve) => {
        cut();
        server.close(() => resolve());
      }),
  );
  return {
    url: `tcp://127.0.0.1:${port}`,
    get accepted() {
      return accepted;
    },
    cut,
    get refuse() {
      return state.refuse;
    },
    set refuse(v: boolean) {
      state.refuse = v;
    },
  };
}
