/**
 * The smallest possible "broker" for the raw baseline: frames arriving on the input
 * socket are forwarded to every connected output socket. It walks the length prefixes
 * (as any router must, to know where messages start) and forwards each received chunk
 * whole; when an output pushes back it stops reading the input until 'drain'. With
 * `framed: false` it is a plain byte pipe (the stream baseline) and passes EOF on.
 */
import net from 'node:net';
import { once } from 'node:events';
import { config, onExit, peerMain, report } from './lib/child.js';

interface RelayConfig {
  readonly inPath: string;
  readonly outPath: string;
  /** Walk length-prefixed frame boundaries (pub/sub); false = plain byte pipe (stream). */
  readonly framed: boolean;
}

/** Counts frame boundaries across chunks without copying anything. */
class BoundaryWalker {
  private skip = 0;
  private readonly head = Buffer.alloc(4);
  private headFill = 0;
  frames = 0;

  walk(chunk: Buffer): void {
    let pos = 0;
    const n = chunk.length;
    while (pos < n) {
      if (this.skip > 0) {
        const s = Math.min(this.skip, n - pos);
        this.skip -= s;
        pos += s;
        continue;
      }
      if (this.headFill > 0 || n - pos < 4) {
        while (this.headFill < 4 && pos < n) this.head[this.headFill++] = chunk[pos++]!;
        if (this.headFill < 4) return;
        this.headFill = 0;
        this.skip = this.head.readUInt32BE(0);
      } else {
        this.skip = chunk.readUInt32BE(pos);
        pos += 4;
      }
      this.frames++;
    }
  }
}

peerMain(async () => {
  const cfg = config<RelayConfig>();
  const outs = new Set<net.Socket>();
  const inputs = new Set<net.Socket>();
  /** Outputs that pushed back; inputs are paused while any is in here. */
  const blocked = new Set<net.Socket>();
  const unblock = (o: net.Socket): void => {
    if (blocked.delete(o) && blocked.size === 0) for (const s of inputs) s.resume();
  };

  const outServer = net.createServer((socket) => {
    outs.add(socket);
    socket.on('drain', () => unblock(socket));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      outs.delete(socket);
      unblock(socket);
    });
    socket.write(Buffer.from([1])); // hello: registered, frames may flow
  });
  const inServer = net.createServer((socket) => {
    inputs.add(socket);
    if (blocked.size > 0) socket.pause();
    const walker = new BoundaryWalker();
    socket.on('data', (chunk: Buffer) => {
      if (cfg.framed) walker.walk(chunk);
      for (const o of outs) {
        if (!o.write(chunk) && !blocked.has(o)) {
          if (blocked.size === 0) for (const s of inputs) s.pause();
          blocked.add(o);
        }
      }
    });
    socket.on('end', () => {
      for (const o of outs) o.end(); // EOF travels on, like a pipe
    });
    socket.on('error', () => undefined);
    socket.on('close', () => inputs.delete(socket));
  });
  outServer.listen(cfg.outPath);
  inServer.listen(cfg.inPath);
  await Promise.all([once(outServer, 'listening'), once(inServer, 'listening')]);
  onExit(() => {
    for (const s of [...outs, ...inputs]) s.destroy();
    outServer.close();
    inServer.close();
  });
  report({ t: 'ready' });
});
