import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { WebSocket, WebSocketServer } from 'ws';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { hostOf, portOf } from './address.js';
import { bind } from './net.js';
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
  private paused = false;
  /** Messages not yet delivered: they came before attach() or while paused. */
  private readonly queued: Buffer[] = [];
  /** A close not delivered yet: before attach(), or behind queued messages. */
  private closePending: { err: Error | undefined } | undefined;
  private drainScheduled = false;

  constructor(
    private readonly ws: WebSocket,
    readonly info: ChannelInfo,
  ) {
    // Listen from the start: `ws` drops messages nobody listens for, and a peer that
    // speaks first can have its message emitted before dial() has even resolved (it
    // arrives with the upgrade response), let alone before attach().
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer, isBinary: boolean) => this.onMessage(data, isBinary));
    ws.on('close', () => this.finish());
    ws.on('error', (err) => this.finish(err));
  }

  attach(handlers: ChannelHandlers): void {
    this.handlers = handlers;
    this.scheduleDelivery();
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.done) return;
    if (!isBinary) {
      this.destroy(new PlexusError(ErrorCode.PROTOCOL, 'text WebSocket messages are not Plexus frames'));
      return;
    }
    if (this.handlers && !this.paused && this.queued.length === 0) this.handlers.data(data);
    else {
      this.queued.push(data);
      this.scheduleDelivery();
    }
  }

  private scheduleDelivery(): void {
    if (this.drainScheduled || !this.handlers) return;
    if (this.queued.length === 0 && !this.closePending) return;
    // Queued data, and a clean close behind it, wait for resume().
    if (this.paused && this.queued.length > 0) return;
    this.drainScheduled = true;
    queueMicrotask(() => this.deliverQueued());
  }

  private deliverQueued(): void {
    this.drainScheduled = false;
    while (!this.paused && this.queued.length > 0) this.handlers!.data(this.queued.shift()!);
    if (this.queued.length === 0) this.deliverClose();
  }

  private finish(err?: Error): void {
    if (this.done) return;
    this.done = true;
    // A clean close comes after the data that preceded it; an error drops that data.
    if (err) this.queued.length = 0;
    this.closePending = { err };
    if (this.handlers && this.queued.length === 0) this.deliverClose();
    else this.scheduleDelivery();
  }

  private deliverClose(): void {
    const pending = this.closePending;
    if (!pending || !this.handlers) return;
    this.closePending = undefined;
    this.handlers.close(pending.err);
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
    this.queued.length = 0;
    this.ws.terminate();
    this.finish(err);
  }

  pause(): void {
    this.paused = true;
    this.ws.pause();
  }

  resume(): void {
    this.paused = false;
    this.ws.resume();
    this.scheduleDelivery();
  }
}

/** `ws://host:port/path` and `wss://` — frames as binary WebSocket messages. */
export const wsTransport: TransportFactory = {
  async dial(url, options) {
    const timeoutMs = options.timeoutMs ?? 5000;
    const signal = options.signal;
    const cancelled = (): PlexusError =>
      new PlexusError(ErrorCode.CANCELLED, `connecting to ${url.href} was cancelled`, { cause: signal?.reason });
    // Checked before anything starts: an aborted dial must not leave a socket behind.
    if (signal?.aborted) throw cancelled();
    // Spell the port out: the URL parser would otherwise send ws:// without one to 80.
    const host = url.hostname.includes(':') && !url.hostname.startsWith('[') ? `[${url.hostname}]` : url.hostname;
    const target = `${url.protocol}//${url.username ? `${url.username}:${url.password}@` : ''}${host}:${portOf(url)}${url.pathname}${url.search}`;
    const ws = new WebSocket(target, { ...(url.protocol === 'wss:' ? options.tls : {}), handshakeTimeout: timeoutMs, maxPayload: 0 });
    // Made before 'open': its listeners must be in place for a server that speaks first.
    const channel = new WebSocketChannel(ws, { kind: url.protocol.slice(0, -1), remote: url.host });
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        ws.terminate();
        reject(cancelled());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      ws.once('open', () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      ws.once('error', (err) => {
        signal?.removeEventListener('abort', onAbort);
        reject(new PlexusError(ErrorCode.CONNECT_FAILED, `cannot connect to ${url.href}: ${err.message}`, { cause: err }));
      });
    });
    return channel;
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
    // Bind first: a WebSocketServer re-emits its http server's errors as its own, so one
    // made earlier would turn EADDRINUSE into an unhandled 'error' instead of a rejection.
    await bind(server, { host: hostOf(url), port: portOf(url) }, url);
    // maxPayload stays large: the frame decoder enforces Plexus's own frame limit.
    const wss = new WebSocketServer({ server, path, maxPayload: 64 * 1024 * 1024 });
    wss.on('connection', (ws, req) => {
      const remote = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
      // mTLS identity, as tls:// reports it: only a certificate the handshake verified.
      const sock = req.socket as TLSSocket;
      const peer = secure && sock.authorized ? sock.getPeerCertificate() : undefined;
      const cn = peer && typeof peer.subject?.CN === 'string' ? peer.subject.CN : undefined;
      const kind = secure ? 'wss' : 'ws';
      accept(new WebSocketChannel(ws, cn === undefined ? { kind, remote } : { kind, remote, certSubject: cn }));
    });
    const addr = server.address() as AddressInfo;
    const host = addr.address.includes(':') ? `[${addr.address}]` : addr.address;
    return {
      url: `${url.protocol}//${host}:${addr.port}${path}`,
      // Stop accepting at once; like the socket listeners, open connections are left alone
      // (server.close()'s callback would wait for all of them to end).
      close: async () => {
        if (!server.listening) return;
        wss.close();
        server.close();
        server.closeIdleConnections?.();
      },
    };
  },
};
