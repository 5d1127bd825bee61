/** Streaming calls pick instances as unary calls do: version ranges and least-pending. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { defineService, serveService, serviceClient } from '../../src/contract/index.js';
import { ErrorCode } from '../../src/errors/index.js';
import { Cleanup, startTestBroker } from '../helpers/plexus.js';
import { rejectionCode, within } from '../helpers/wait.js';

/** One service in several versions (one major: one subject per method). */
const tilesAt = (version: string) =>
  defineService('tiles', {
    version,
    methods: {
      /** Server-streaming: the serving instance's version, `n` times. */
      versions: { input: z.object({ n: z.number().int().positive() }), output: z.string(), stream: 'server' },
      /** Client-streaming: how many items arrived, and which version counted them. */
      count: { input: z.number(), output: z.object({ n: z.number(), version: z.string() }), stream: 'client' },
    },
  });

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of items) out.push(x);
  return out;
}

describe('streaming calls and instance choice', { timeout: 60_000 }, () => {
  it('a version range reaches only matching instances for server- and client-streaming calls', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c);
    const me = await b.connect();
    for (const version of ['2.1.0', '2.3.0']) {
      const bus = await b.connect();
      const server = serveService(bus, tilesAt(version), {
        async *versions({ n }) {
          for (let i = 0; i < n; i++) yield version;
        },
        async count(items) {
          let n = 0;
          for await (const _ of items) n++;
          return { n, version };
        },
      });
      c.defer(() => server.close());
      await server.ready();
    }

    const newer = serviceClient(me, tilesAt('2.3.0'), { version: '~2.3' });
    for (let i = 0; i < 4; i++) {
      assert.deepEqual(await within(collect(newer.versions({ n: 2 })), 10_000, 'server stream'), ['2.3.0', '2.3.0']);
      assert.deepEqual(await within(newer.count([1, 2, 3]), 10_000, 'client stream'), { n: 3, version: '2.3.0' });
    }

    // Without a range the queue group spreads streams over both instances.
    const any = serviceClient(me, tilesAt('2.0.0'), { version: '^2' });
    const seen = new Set<string>();
    for (let i = 0; i < 8; i++) seen.add((await within(collect(any.versions({ n: 1 })), 10_000, 'server stream'))[0]!);
    assert.deepEqual([...seen].sort(), ['2.1.0', '2.3.0']);

    const three = serviceClient(me, tilesAt('3.0.0'), { version: '^3' });
    assert.equal(await rejectionCode(collect(three.versions({ n: 1 })), 5000), ErrorCode.NO_MATCHING_INSTANCE);
    assert.equal(await rejectionCode(three.count([1]), 5000), ErrorCode.NO_MATCHING_INSTANCE);
  });

  it('least-pending sends a new stream to the instance not holding this client’s open stream', async (t) => {
    const c = new Cleanup(t);
    const b = await startTestBroker(c);
    const me = await b.connect();
    for (const version of ['1.0.0', '1.0.1']) {
      const bus = await b.connect();
      const server = serveService(bus, tilesAt(version), {
        async *versions({ n }) {
          for (let i = 0; i < n; i++) yield version;
        },
        count: () => ({ n: 0, version }),
      });
      c.defer(() => server.close());
      await server.ready();
    }
    const client = serviceClient(me, tilesAt('1.0.0'), { balance: 'least-pending' });
    // Hold one stream open (read its first item only), then open others one at a time:
    // each must go to the instance the held stream is not on.
    const held = client.versions({ n: 1000 })[Symbol.asyncIterator]();
    const first = await within(held.next(), 10_000, 'held stream');
    assert.equal(first.done, false);
    const heldOn = first.value as string;
    for (let i = 0; i < 4; i++) {
      const [v] = await within(collect(client.versions({ n: 1 })), 10_000, 'second stream');
      assert.notEqual(v, heldOn, 'least-pending avoided the instance with a stream in flight');
    }
    await held.return?.();
  });
});
