import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { PlexusStream, unwrapOffset, type StreamHost } from '../../src/client/stream.js';
import type { InboxRoute } from '../../src/client/requests.js';
import { Flag, FrameType, type Frame, type FrameInit } from '../../src/wire/index.js';

/**
 * Two stream ends joined by a fake network that drops, duplicates and reorders-by-delay
 * frames, and occasionally "reconnects". Whatever it does, the reader must get exactly
 * the bytes written, in order, then EOF.
 */
class LossyNet {
  readonly hosts: FakeHost[] = [];
  delivered = 0;
  dropped = 0;
  duplicated = 0;
  constructor(private readonly rand: () => number, private readonly dropP: number, private readonly dupP: number) {}

  route(init: FrameInit): void {
    const frame: Frame = {
      type: init.type,
      flags: init.flags ?? 0,
      id: 1,
      aux: init.aux ?? 0,
      subject: init.subject ?? '',
      reply: init.reply ?? '',
      headers: undefined,
      payload: init.payload ?? new Uint8Array(0),
    };
    if (this.rand() < this.dropP) {
      this.dropped++;
      return;
    }
    const copies = this.rand() < this.dupP ? 2 : 1;
    if (copies === 2) this.duplicated++;
    for (let i = 0; i < copies; i++) {
      setImmediate(() => {
        for (const h of this.hosts) {
          const r = h.routes.get(frame.subject);
          if (r) {
            this.delivered++;
            r.onFrame(frame);
          }
        }
      });
    }
  }
}

class FakeHost implements StreamHost {
  readonly routes = new Map<string, InboxRoute>();
  private readonly reconnect = new Set<() => void>();
  readonly maxPayload = 1 << 20;
  constructor(private readonly net: LossyNet, private readonly name: string) {
    net.hosts.push(this);
  }
  sendFrame(init: FrameInit): number {
    this.net.route(init);
    return 1;
  }
  addRoute(token: string, route: InboxRoute): void {
    this.routes.set(this.newInbox(token), route);
  }
  removeRoute(token: string): void {
    this.routes.delete(this.newInbox(token));
  }
  newInbox(token: string): string {
    return `_INBOX.${this.name}.${token}`;
  }
  onReconnect(fn: () => void): () => void {
    this.reconnect.add(fn);
    return () => this.reconnect.delete(fn);
  }
  fireReconnect(): void {
    for (const fn of [...this.reconnect]) fn();
  }
}

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

async function transfer(seed: number, dropP: number, dupP: number, size: number): Promise<{ net: LossyNet }> {
  let s = seed >>> 0 || 1;
  const rand = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x1_0000_0000;
  };
  const net = new LossyNet(rand, dropP, dupP);
  const hostA = new FakeHost(net, 'a');
  const hostB = new FakeHost(net, 'b');
  const opts = { window: 16 * 1024, chunkBytes: 1024, keepaliveMs: 15, peerTimeoutMs: 5000 };
  const a = new PlexusStream(hostA, 's1', opts);
  const b = new PlexusStream(hostB, 's1', opts);
  a.acceptFrom(b.localSubject, 16 * 1024);
  b.acceptFrom(a.localSubject, 16 * 1024);
  const data = pattern(size, seed);
  const reconnects = setInterval(() => {
    if (rand() < 0.3) hostA.fireReconnect();
    if (rand() < 0.3) hostB.fireReconnect();
  }, 25);
  try {
    const reading = b.readAll();
    for (let o = 0; o < data.length; o += 5000) await a.write(data.subarray(o, Math.min(data.length, o + 5000)));
    const ended = a.end();
    const got = await reading;
    await b.end();
    await ended;
    assert.equal(got.length, data.length, 'byte count');
    assert.equal(createHash('sha256').update(got).digest('hex'), createHash('sha256').update(data).digest('hex'), 'content');
    assert.equal(await a.closed, undefined);
    assert.equal(await b.closed, undefined);
  } finally {
    clearInterval(reconnects);
    a.reset();
    b.reset();
  }
  return { net };
}

test('unwrapOffset recovers full offsets across 2^32 wraparound', () => {
  fc.assert(
    fc.property(fc.double({ min: 0, max: 2 ** 52, noNaN: true }), fc.integer({ min: -(2 ** 30), max: 2 ** 30 }), (nearF, delta) => {
      const near = Math.floor(nearF);
      const actual = near + delta;
      fc.pre(actual >= 0);
      assert.equal(unwrapOffset(actual % 0x1_0000_0000, near), actual);
    }),
    { numRuns: 500 },
  );
});

test('a clean network delivers every byte once, then EOF', async () => {
  const { net } = await transfer(7, 0, 0, 100_000);
  assert.equal(net.dropped, 0);
});

test('drops, duplicates and spurious reconnects never lose or duplicate bytes', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 0x7fffffff }),
      fc.double({ min: 0, max: 0.2, noNaN: true }),
      fc.double({ min: 0, max: 0.2, noNaN: true }),
      fc.integer({ min: 0, max: 120_000 }),
      async (seed, dropP, dupP, size) => {
        const { net } = await transfer(seed, dropP, dupP, size);
        assert.ok(net.delivered > 0 || size === 0);
      },
    ),
    { numRuns: 12 },
  );
});

test('a reader that is far behind only ever holds one window of data', async () => {
  const net = new LossyNet(() => 0.5, 0, 0);
  const hostA = new FakeHost(net, 'a');
  const hostB = new FakeHost(net, 'b');
  const a = new PlexusStream(hostA, 's1', { window: 8192, chunkBytes: 1024 });
  const b = new PlexusStream(hostB, 's1', { window: 8192, chunkBytes: 1024 });
  a.acceptFrom(b.localSubject, 8192);
  b.acceptFrom(a.localSubject, 8192);
  let settled = false;
  const w = a.write(Buffer.alloc(64 * 1024)).then(() => (settled = true));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(settled, false, 'write must wait for credit while the reader reads nothing');
  let read = 0;
  while (read < 64 * 1024) {
    const c = await b.read();
    assert.ok(c);
    read += c.length;
  }
  await w;
  assert.equal(settled, true);
  a.reset();
  b.reset();
});

test('a RESUME credit makes the writer resend from the reader offset', async () => {
  const sent: FrameInit[] = [];
  const host: StreamHost = {
    sendFrame: (init) => (sent.push(init), 1),
    addRoute: () => undefined,
    removeRoute: () => undefined,
    newInbox: (t) => `_INBOX.x.${t}`,
    maxPayload: 1 << 20,
    onReconnect: () => () => undefined,
  };
  const a = new PlexusStream(host, 's', { window: 1 << 20, chunkBytes: 256 });
  a.acceptFrom('_INBOX.peer.s', 1 << 20);
  await a.write(Buffer.alloc(2560));
  const dataFrames = sent.filter((f) => f.type === FrameType.DATA).length;
  assert.equal(dataFrames, 10);
  sent.length = 0;
  a.onFrame({ type: FrameType.CREDIT, flags: Flag.RESUME, id: 1, aux: 1150, subject: a.localSubject, reply: '', headers: undefined, payload: new Uint8Array(0) });
  const resent = sent.filter((f) => f.type === FrameType.DATA).map((f) => f.aux);
  assert.deepEqual(resent, [1024, 1280, 1536, 1792, 2048, 2304]);
  a.reset();
});
