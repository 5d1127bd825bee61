import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { hostOf, portOf } from './address.js';
import type { ByteChannel, ChannelHandlers, ChannelInfo } from './channel.js';
import type { TransportFactory } from './types.js';

const HIGH_WATER = 4 * 1024 * 1024;

/**
 * A byte channel over a WebSocket: every chunk the framer hands over becomes one binary
 * message holding whole frames. Backpressure counts bytes handed to `ws` whose send
 * callback has not run yet.
 */
class WebSocketChannel implements ByteChannel {
  private handlers: ChannelHandlers | undefined;
  private inFlight = 0;
  private wantDrain = false;
  private done = false;

  constructor(
    private readonly ws: WebSocket,
    readonly info: ChannelInfo,
  ) {}

  attach(handlers: ChannelHandlers): void {
    this.handlers = handlers;
    this.ws.binaryType = 'nodebuffer';
    this.ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        this.destroy(new PlexusError(ErrorCode.PROTOCOL, 'text WebSocket messages are not Plexus frames'));
        return;
      }
      handlers.data(data);
    });
    this.ws.on('close', () => this.finish());
    this.ws.on('error', (err) => this.finish(err));
  }

  private finish(err?: Error): void {
    if (this.done) return;
    this.done = true;
    this.handlers?.close(err);
  }

  write(chunk: Uint8Array): boolean {
    if (this.done || this.ws.readyState !== WebSocket.OPEN) return true;
    this.inFlight += chunk.length;
    this.ws.send(chunk, { binary: true }, () => {
      this.inFlight -= chunk.length;
      if (this.wantDrain && this.inFlight < HIGH_WATER / 2) {
        this.wantDrain = false;
        this.handlers?.drain();
      }
    });
    if (this.inFlight >= HIGH_WATER) {
      this.wantDrain = true;
      return false;
    }
    return true;
  }

  end(): void {
    this.ws.close(1000);
  }

  destroy(err?: Error): void {
    this.ws.terminate();
    this.finish(err);
  }

  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }
}

/** `ws://host:port/path` and `wss://` — frames as binary WebSocket messages. */
export const wsTransport: TransportFactory = {
  async dial(url, options) {
    const timeoutMs = options.timeoutMs ?? 5000;
    const ws = new WebSocket(url.href, { ...(url.protocol === 'wss:' ? options.tls : {}), handshakeTimeout: timeoutMs, maxPayload: 0 });
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        ws.terminate();
        reject(new PlexusError(ErrorCode.CANCELLED, `connecting to ${url.href} was cancelled`));
      };
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      ws.once('open', () => {
        options.signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      ws.once('error', (err) => {
        options.signal?.removeEventListener('abort', onAbort);
        reject(new PlexusError(ErrorCode.CONNECT_FAILED, `cannot connect to ${url.href}: ${err.message}`, { cause: err }));
      });
    });
    return new WebSocketChannel(ws, { kind: url.protocol.slice(0, -1), remote: url.host });
  },
  async listen(url, options, accept) {
    const secure = url.protocol === 'wss:';
    if (secure && (!options.tls?.cert || !options.tls.key)) {
      throw new PlexusError(ErrorCode.CONFIG, `${url.href} needs tls.cert and tls.key`);
    }
    const server = secure ? https.createServer({ ...options.tls }) : http.createServer();
    server.on('request', (_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end('Plexus: WebSocket upgrade required\n');
    });
    const path = url.pathname || '/';
    // maxPayload stays large: the frame decoder enforces Plexus's own frame limit.
    const wss = new WebSocketServer({ server, path, maxPayload: 64 * 1024 * 1024 });
    wss.on('connection', (ws, req) => {
      accept(new WebSocketChannel(ws, { kind: secure ? 'wss' : 'ws', remote: `${req.socket.remoteAddress}:${req.socket.remotePort}` }));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(portOf(url), hostOf(url), () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address() as AddressInfo;
    const host = addr.address.includes(':') ? `[${addr.address}]` : addr.address;
    return {
      url: `${url.protocol}//${host}:${addr.port}${path}`,
      close: () =>
        new Promise<void>((resolve) => {
          wss.close();
          server.close(() => resolve());
          server.closeIdleConnections?.();
        }),
    };
  },
};
