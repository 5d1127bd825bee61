/**
 * serveGrpc: Plexus handlers behind @grpc/grpc-js, called by a plain grpc-js client —
 * unary, server and client streaming, validation, deadlines, cancellation and the
 * error → status table.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { z } from 'zod';
import { calculatorHandlers, runningSum, type SleepOutcome } from '../../examples/s3-grpc-calculator/calculator.js';
import { ErrorCode, ServiceError, type ServiceImpl } from '../../src/index.js';
import { loadProtoService, protoContract, serveGrpc, type GrpcServer } from '../../src/grpc/index.js';
import { Cleanup } from '../helpers/plexus.js';
import { codeOf, waitFor, within } from '../helpers/wait.js';
import { PROTO_PATH, plainClient, plexusTrailer, unaryCall } from './helpers.js';

const proto = await loadProtoService(PROTO_PATH, 'calc.Calculator');

async function start(
  cleanup: Cleanup,
  overrides: Record<string, unknown> = {},
  contractOptions: Parameters<typeof protoContract>[1] = { name: 'calculator', version: '1.0.0' },
): Promise<{ server: GrpcServer; sleeps: { outcome: SleepOutcome; deadlineInMs: number }[] }> {
  const sleeps: { outcome: SleepOutcome; deadlineInMs: number }[] = [];
  const handlers = { ...calculatorHandlers((outcome, deadlineInMs) => sleeps.push({ outcome, deadlineInMs })), ...overrides };
  const contract = protoContract(proto, contractOptions);
  const server = await serveGrpc(contract, handlers as unknown as ServiceImpl<typeof contract>, {
    proto,
    log: () => undefined,
    bidi: { RunningSum: runningSum },
  });
  cleanup.defer(() => server.close());
  return { server, sleeps };
}

test('unary: a plain grpc-js client calls Add; a ServiceError becomes its status, the exact error rides in a trailer', async (t) => {
  const cleanup = new Cleanup(t);
  const { server } = await start(cleanup);
  assert.match(server.address, /^127\.0\.0\.1:\d+$/);
  const stub = plainClient(cleanup, server.address);
  const add = await within(unaryCall<{ sum: number }>(stub, 'Add', { a: 2, b: 3 }).done, 5000, 'Add');
  assert.equal(add.error, undefined);
  assert.equal(add.reply?.sum, 5);
  const div = await within(unaryCall(stub, 'Divide', { a: 1, b: 0 }).done, 5000, 'Divide');
  assert.equal(div.error?.code, grpc.status.INVALID_ARGUMENT);
  assert.equal(div.error?.details, 'division by zero');
  assert.deepEqual(plexusTrailer(div.error), {
    code: ErrorCode.SERVICE,
    message: 'division by zero',
    details: { code: 'INVALID_ARGUMENT', details: { dividend: 1 } },
  });
});

test('error table: application codes, validation, unexpected errors', async (t) => {
  const cleanup = new Cleanup(t);
  const { server } = await start(
    cleanup,
    {
      Divide: ({ a }: { a: number }) => {
        if (a === 1) throw new ServiceError('NOT_FOUND', 'no such number');
        if (a === 2) throw new ServiceError('RIDE_UNAVAILABLE', 'not a gRPC status name');
        throw new Error('secret internals');
      },
    },
    // A stricter schema than the proto's: b must be at most 1000.
    { name: 'calculator', version: '1.0.0', methods: { Add: { input: z.object({ a: z.number(), b: z.number().max(1000) }) } } },
  );
  const stub = plainClient(cleanup, server.address);
  const notFound = await within(unaryCall(stub, 'Divide', { a: 1, b: 1 }).done, 5000, 'NOT_FOUND');
  assert.equal(notFound.error?.code, grpc.status.NOT_FOUND);
  const app = await within(unaryCall(stub, 'Divide', { a: 2, b: 1 }).done, 5000, 'app code');
  assert.equal(app.error?.code, grpc.status.UNKNOWN);
  assert.equal((plexusTrailer(app.error)?.details as { code: string }).code, 'RIDE_UNAVAILABLE');
  const internal = await within(unaryCall(stub, 'Divide', { a: 3, b: 1 }).done, 5000, 'internal');
  assert.equal(internal.error?.code, grpc.status.INTERNAL);
  assert.doesNotMatch(internal.error?.details ?? '', /secret/, 'an unexpected error does not leak its message');
  const invalid = await within(unaryCall(stub, 'Add', { a: 1, b: 5000 }).done, 5000, 'validation');
  assert.equal(invalid.error?.code, grpc.status.INVALID_ARGUMENT);
  const trailer = plexusTrailer(invalid.error);
  assert.equal((trailer?.details as { code: string }).code, ErrorCode.VALIDATION);
  const issues = ((trailer?.details as { details: { issues: { path?: unknown[] }[] } }).details).issues;
  assert.deepEqual(issues[0]?.path, ['b']);
});

test('server streaming: Count yields 1..n in order; client streaming: Sum reads every item', async (t) => {
  const cleanup = new Cleanup(t);
  const { server } = await start(cleanup);
  const stub = plainClient(cleanup, server.address);
  const stream = stub['Count']!({ to: 200 }) as grpc.ClientReadableStream<{ n: number }>;
  const got: number[] = [];
  await within(
    (async () => {
      for await (const m of stream) got.push((m as { n: number }).n);
    })(),
    5000,
    'Count',
  );
  assert.deepEqual(got, Array.from({ length: 200 }, (_, i) => i + 1));

  const sum = await within(
    new Promise<{ sum: number }>((resolve, reject) => {
      const call = stub['Sum']!((err: Error | null, reply: { sum: number }) => (err ? reject(err) : resolve(reply))) as grpc.ClientWritableStream<{
        value: number;
      }>;
      for (const value of [1, 2, 3.5, -0.5]) call.write({ value });
      call.end();
    }),
    5000,
    'Sum',
  );
  assert.equal(sum.sum, 6);
});

test('deadlines: the gRPC deadline is ctx.deadline, and passing it aborts ctx.signal with TIMEOUT', async (t) => {
  const cleanup = new Cleanup(t);
  const { server, sleeps } = await start(cleanup);
  const stub = plainClient(cleanup, server.address);
  const { done } = unaryCall(stub, 'Sleep', { ms: 10_000 }, { deadline: Date.now() + 300 });
  const outcome = await within(done, 5000, 'Sleep');
  assert.equal(outcome.error?.code, grpc.status.DEADLINE_EXCEEDED);
  await waitFor(() => sleeps.length === 1, 3000, 'handler end');
  assert.equal(sleeps[0]!.outcome, 'timeout');
  assert.ok(sleeps[0]!.deadlineInMs > 0 && sleeps[0]!.deadlineInMs <= 300, `deadline seen: ${sleeps[0]!.deadlineInMs} ms`);
  // Without a deadline the handler sees none and finishes.
  const free = await within(unaryCall<{ outcome: string; deadlineInMs: string }>(stub, 'Sleep', { ms: 10 }).done, 5000, 'free Sleep');
  assert.equal(free.reply?.outcome, 'slept');
  assert.equal(free.reply?.deadlineInMs, '0');
});

test('cancellation: a client cancel aborts ctx.signal with CANCELLED', async (t) => {
  const cleanup = new Cleanup(t);
  const { server, sleeps } = await start(cleanup);
  const stub = plainClient(cleanup, server.address);
  const { call, done } = unaryCall(stub, 'Sleep', { ms: 10_000 });
  setTimeout(() => call.cancel(), 150);
  const outcome = await within(done, 5000, 'cancelled Sleep');
  assert.equal(outcome.error?.code, grpc.status.CANCELLED);
  await waitFor(() => sleeps.length === 1, 3000, 'handler end');
  assert.equal(sleeps[0]!.outcome, 'cancelled');
});

test('serveGrpc refuses a contract that does not match the proto or an impl without a handler', async () => {
  const contract = protoContract(proto, { name: 'calculator', version: '1.0.0' });
  const partial = { ...calculatorHandlers(), Add: undefined };
  await assert.rejects(
    serveGrpc(contract, partial as unknown as ServiceImpl<typeof contract>, { proto }),
    (e: unknown) => codeOf(e) === ErrorCode.INVALID_ARGUMENT && /no handler for Add/.test((e as Error).message),
  );
  const other = await loadProtoService(PROTO_PATH, 'calc.Calculator');
  const fewer = { ...other, methods: other.methods.filter((m) => m.name !== 'Sum') };
  await assert.rejects(
    serveGrpc(contract, calculatorHandlers() as unknown as ServiceImpl<typeof contract>, { proto: fewer }),
    (e: unknown) => codeOf(e) === ErrorCode.INVALID_ARGUMENT && /no rpc Sum/.test((e as Error).message),
  );
  await assert.rejects(loadProtoService(PROTO_PATH, 'calc.Nope'), (e: unknown) => codeOf(e) === ErrorCode.INVALID_ARGUMENT);
});

test('bidirectional streaming: RunningSum answers each message as it arrives', async (t) => {
  const cleanup = new Cleanup(t);
  const { server } = await start(cleanup);
  const stub = plainClient(cleanup, server.address);
  const call = stub['RunningSum']!() as grpc.ClientDuplexStream<{ value: number }, { sum: number }>;
  const replies = call[Symbol.asyncIterator]() as AsyncIterator<{ sum: number }>;
  const totals: number[] = [];
  // Lock-step: the next number is sent only after the previous total came back.
  for (const value of [1, 2, 3, 4]) {
    call.write({ value });
    const r = await within(replies.next(), 5000, `total after ${value}`);
    assert.equal(r.done, false);
    totals.push(r.value.sum);
  }
  call.end();
  assert.equal((await within(replies.next(), 5000, 'end')).done, true);
  assert.deepEqual(totals, [1, 3, 6, 10]);
});

test('server streaming honours flow control: a client that stops reading holds the handler back; a cancel ends it', async (t) => {
  const cleanup = new Cleanup(t);
  let yielded = 0;
  let finished = false;
  const TOTAL = 100_000;
  const { server } = await start(cleanup, {
    async *Count({ to }: { to: number }) {
      try {
        for (let n = 1; n <= to; n++) {
          yielded++;
          yield { n };
        }
      } finally {
        finished = true;
      }
    },
  });
  const stub = plainClient(cleanup, server.address);
  const stream = stub['Count']!({ to: TOTAL }) as grpc.ClientReadableStream<{ n: number }>;
  const ended = new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve));
  stream.pause();
  // Ignoring write()'s false, the loop would queue all messages at once; honouring it,
  // the handler only gets as far as the HTTP/2 windows and grpc-js's buffers let it.
  await new Promise((r) => setTimeout(r, 1500));
  assert.ok(yielded > 0 && yielded < TOTAL / 2, `the handler ran ahead by ${yielded} of ${TOTAL} messages`);
  assert.equal(finished, false, 'still waiting for the reader');
  stream.cancel();
  assert.equal((await within(ended, 5000, 'cancel')).code, grpc.status.CANCELLED);
  await waitFor(() => finished, 5000, 'the handler stops after the cancel');
  assert.ok(yielded < TOTAL);
});
