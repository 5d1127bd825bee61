/** HTTP/1.1 keep-alive adapters: a node:http echo server and an undici Pool client. */
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import type { Requester, Responder } from './types.js';

export async function httpResponder(): Promise<Responder> {
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    address: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Up to `connections` keep-alive connections (one request on each at a time). */
export async function httpRequester(origin: string, connections: number): Promise<Requester> {
  const pool = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
  return {
    async call(payload) {
      const res = await pool.request({ path: '/echo', method: 'POST', body: payload, headers: { 'content-type': 'application/octet-stream' } });
      const body = new Uint8Array(await res.body.arrayBuffer());
      if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
      return body.length;
    },
    close: () => pool.close(),
  };
}
