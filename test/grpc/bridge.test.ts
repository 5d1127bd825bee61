/**
 * The bridge both ways: bus callers reach a gRPC server through bridgeGrpcService, and
 * gRPC clients reach bus handlers through serveGrpc + busForwarder — with deadlines,
 * cancellation and errors carried across.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { calculatorHandlers, type SleepOutcome } from '../../examples/s3-grpc-calculator/calculator.js';
import { ErrorCode, PlexusError, ServiceError, callClientStream, callMethod, callServerStream, serveService, type ServiceImpl } from '../../src/index.js';
import {
  GrpcStatus,
  bridgeGrpcService,
  busForwarder,
  fromStatus,
  loadProtoService,
  protoBusCodecs,
  protoContract,
  serveGrpc,
  statusOf,
} from '../../src/grpc/index.js';
import { Cleanup, startTestBroker } from '../helpers/plexus.js';
import { codeOf, waitFor, within } from '../helpers/wait.js';
import { PROTO_PATH, plainClient, unaryCall } from './helpers.js';

const proto = await loadProtoService(PROTO_PATH, 'calc.Calculator');
type Sleeps = { outcome: SleepOutcome; deadlineInMs: number }[];

/** A gRPC calculator (the "external" server) and a bus bridged to it. */
async function bridged(t: TestContext, overrides: Record<string, unknown> = {}) {
  const cleanup = new Cleanup(t);
  const sleeps: Sleeps = [];
  const contract = protoContract(proto, { name: 'calculator', version: '1.0.0' });
  const handlers = { ...calculatorHandlers((outcome, deadlineInMs) => sleeps.push({ outcome, deadlineInMs })), ...overrides };
  const server = await serveGrpc(contract, handlers as unknown as ServiceImpl<typeof contract>, { proto, log: () => undefined });
  cleanup.defer(() => server.close());
  const { connect } = await startTestBroker(cleanup);
  const bridgeBus = await connect();
  const bridge = await bridgeGrpcService(bridgeBus, { proto, target: server.address, contract: { name: 'remote-calc', version: '1.0.0' } });
  cleanup.defer(() => bridge.close());
  const caller = await connect();
  return { cleanup, sleeps, bridge, caller };
}

test('bus → gRPC: a bus call is forwarded as a gRPC call and answered in binary protobuf', async (t) => {
  const { bridge, caller } = await bridged(t);
  assert.deepEqual(Object.keys(bridge.contract.methods).sort(), ['Add', 'Count', 'Divide', 'Sleep', 'Sum'], 'all but the bidirectional rpc');
  assert.equal(bridge.server.subjects['Add'], '$SRV.remote-calc.1.Add');
  const out = await within(callMethod(caller, bridge.contract, 'Add', { a: 40, b: 2 }, { codec: bridge.codecs.client['Add']! }), 5000, 'Add');
  assert.deepEqual(out, { sum: 42 });
  // The ServiceError thrown behind gRPC comes back whole (code, message, details).
  const err = await callMethod(caller, bridge.contract, 'Divide', { a: 7, b: 0 }, { codec: bridge.codecs.client['Divide']! }).catch((e: unknown) => e);
  assert.ok(err instanceof ServiceError, String(err));
  assert.equal(err.code, 'INVALID_ARGUMENT');
  assert.equal(err.message, 'division by zero');
  assert.deepEqual(err.details, { dividend: 7 });
});

test('bus → gRPC: streaming rpcs are bridged both ways round (server and client streaming)', async (t) => {
  const { bridge, caller } = await bridged(t);
  const items: unknown[] = [];
  for await (const item of callServerStream(caller, bridge.contract, 'Count', { to: 50 }, { codec: bridge.codecs.client['Count']!, timeoutMs: 5000 })) {
    items.push(item);
  }
  assert.deepEqual(items, Array.from({ length: 50 }, (_, i) => ({ n: i + 1 })));
  // The bus caller may stop early (the bridge then cancels its gRPC call).
  let seen = 0;
  for await (const _ of callServerStream(caller, bridge.contract, 'Count', { to: 100_000 }, { codec: bridge.codecs.client['Count']!, timeoutMs: 5000 })) {
    if (++seen === 3) break;
  }
  assert.equal(seen, 3);
  const values = [0.5, 1.5, 2, 96];
  const sum = await within(
    callClientStream(caller, bridge.contract, 'Sum', values.map((value) => ({ value })), { codec: bridge.codecs.client['Sum']!, timeoutMs: 5000 }),
    5000,
    'Sum',
  );
  assert.deepEqual(sum, { sum: 100 });
});

test('bus → gRPC: a bus caller that stops reading a server stream early cancels the gRPC call', async (t) => {
  let stoppedBy: unknown;
  let yielded = 0;
  const { bridge, caller } = await bridged(t, {
    async *Count({ to }: { to: number }, ctx: { signal: AbortSignal }) {
      try {
        for (let n = 1; n <= to; n++) {
          yielded++;
          yield { n };
        }
      } finally {
        stoppedBy = ctx.signal.aborted ? ctx.signal.reason : 'ran to the end';
      }
    },
  });
  let seen = 0;
  for await (const _ of callServerStream(caller, bridge.contract, 'Count', { to: 1_000_000 }, { codec: bridge.codecs.client['Count']!, timeoutMs: 10_000 })) {
    if (++seen === 3) break;
  }
  await waitFor(() => stoppedBy !== undefined, 5000, 'the gRPC handler stops');
  assert.equal(codeOf(stoppedBy), ErrorCode.CANCELLED, `stopped by ${String(stoppedBy)}`);
  assert.ok(yielded < 1_000_000);
});

test('bus → gRPC: the caller\'s deadline becomes the gRPC deadline; its cancel cancels the gRPC call', async (t) => {
  const { bridge, caller, sleeps } = await bridged(t);
  const codec = bridge.codecs.client['Sleep']!;
  const timedOut = await callMethod(caller, bridge.contract, 'Sleep', { ms: 10_000 }, { codec, timeoutMs: 300 }).catch((e: unknown) => e);
  assert.equal(codeOf(timedOut), ErrorCode.TIMEOUT);
  await waitFor(() => sleeps.length === 1, 3000, 'first Sleep ends');
  assert.equal(sleeps[0]!.outcome, 'timeout', 'the gRPC handler saw its deadline pass');
  assert.ok(sleeps[0]!.deadlineInMs > 0 && sleeps[0]!.deadlineInMs <= 300, `deadline seen: ${sleeps[0]!.deadlineInMs} ms`);

  const ac = new AbortController();
  setTimeout(() => ac.abort(), 150);
  const cancelled = await callMethod(caller, bridge.contract, 'Sleep', { ms: 10_000 }, { codec, signal: ac.signal, timeoutMs: 5000 }).catch((e: unknown) => e);
  // The caller's own abort rejects its call (with the signal's reason, as any request does).
  assert.ok(cancelled instanceof Error, String(cancelled));
  await waitFor(() => sleeps.length === 2, 3000, 'second Sleep ends');
  assert.equal(sleeps[1]!.outcome, 'cancelled', 'the cancel reached the gRPC handler');
});

test('bus → gRPC: a target that is down is NO_RESPONDERS-coded (UNAVAILABLE), not a hang', async (t) => {
  const cleanup = new Cleanup(t);
  const { connect } = await startTestBroker(cleanup);
  const bus = await connect();
  // A port nothing listens on.
  const bridge = await bridgeGrpcService(bus, { proto, target: '127.0.0.1:1', contract: { name: 'down-calc', version: '1.0.0' }, defaultTimeoutMs: 3000 });
  cleanup.defer(() => bridge.close());
  const caller = await connect();
  const err = await within(
    callMethod(caller, bridge.contract, 'Add', { a: 1, b: 1 }, { codec: bridge.codecs.client['Add']! }).catch((e: unknown) => e),
    8000,
    'call to a dead target',
  );
  assert.equal(codeOf(err), ErrorCode.NO_RESPONDERS);
  assert.equal(((err as PlexusError).details as { grpcStatus: number }).grpcStatus, GrpcStatus.UNAVAILABLE);
});

test('gRPC → bus: serveGrpc + busForwarder let a plain gRPC client reach a handler served on the bus', async (t) => {
  const cleanup = new Cleanup(t);
  const { connect } = await startTestBroker(cleanup);
  const sleeps: Sleeps = [];
  const busContract = protoContract(proto, { name: 'calculator', version: '1.0.0' });
  const codecs = protoBusCodecs(proto);
  const serviceBus = await connect();
  const handlers = calculatorHandlers((outcome, deadlineInMs) => sleeps.push({ outcome, deadlineInMs }));
  const served = serveService(serviceBus, busContract, handlers as unknown as ServiceImpl<typeof busContract>, { codecs: codecs.server, log: () => undefined });
  cleanup.defer(() => served.close());
  await served.ready();
  const gatewayBus = await connect();
  const gateway = await serveGrpc(busContract, busForwarder(gatewayBus, busContract, codecs) as unknown as ServiceImpl<typeof busContract>, {
    proto,
    log: () => undefined,
  });
  cleanup.defer(() => gateway.close());
  const stub = plainClient(cleanup, gateway.address);

  const add = await within(unaryCall<{ sum: number }>(stub, 'Add', { a: 1.5, b: 2 }).done, 5000, 'Add');
  assert.equal(add.reply?.sum, 3.5);
  const div = await within(unaryCall(stub, 'Divide', { a: 1, b: 0 }).done, 5000, 'Divide');
  assert.equal(div.error?.code, grpc.status.INVALID_ARGUMENT);
  assert.equal(div.error?.details, 'division by zero');
  // The gRPC deadline travels on to the bus handler (the forwarder runs as the ambient call).
  const slow = await within(unaryCall(stub, 'Sleep', { ms: 10_000 }, { deadline: Date.now() + 300 }).done, 5000, 'Sleep');
  assert.equal(slow.error?.code, grpc.status.DEADLINE_EXCEEDED);
  await waitFor(() => sleeps.length === 1, 3000, 'bus handler ends');
  assert.equal(sleeps[0]!.outcome, 'timeout');
  assert.ok(sleeps[0]!.deadlineInMs > 0 && sleeps[0]!.deadlineInMs <= 300, `deadline seen on the bus: ${sleeps[0]!.deadlineInMs} ms`);
  // Streaming rpcs go through the bus too.
  const counted: number[] = [];
  const count = stub['Count']!({ to: 5 }) as grpc.ClientReadableStream<{ n: number }>;
  await within(
    (async () => {
      for await (const m of count) counted.push((m as { n: number }).n);
    })(),
    5000,
    'Count',
  );
  assert.deepEqual(counted, [1, 2, 3, 4, 5]);
  const summed = await within(
    new Promise<{ sum: number }>((resolve, reject) => {
      const call = stub['Sum']!((err: Error | null, reply: { sum: number }) => (err ? reject(err) : resolve(reply))) as grpc.ClientWritableStream<{
        value: number;
      }>;
      for (const value of [1, 2, 3]) call.write({ value });
      call.end();
    }),
    5000,
    'Sum',
  );
  assert.equal(summed.sum, 6);
  // The bidirectional rpc has no contract method, so the gateway answers UNIMPLEMENTED.
  const bidi = stub['RunningSum']!() as grpc.ClientDuplexStream<unknown, unknown>;
  const bidiErr = await within(
    new Promise<grpc.ServiceError>((resolve) => {
      bidi.on('error', resolve);
      bidi.on('data', () => undefined);
      bidi.end();
    }),
    5000,
    'RunningSum',
  );
  assert.equal(bidiErr.code, grpc.status.UNIMPLEMENTED);
});

test('status table: Plexus codes → gRPC statuses, and statuses without a trailer → Plexus errors', () => {
  const p = (code: (typeof ErrorCode)[keyof typeof ErrorCode]): PlexusError => new PlexusError(code, 'x');
  assert.equal(statusOf(p(ErrorCode.TIMEOUT)), GrpcStatus.DEADLINE_EXCEEDED);
  assert.equal(statusOf(p(ErrorCode.CANCELLED)), GrpcStatus.CANCELLED);
  assert.equal(statusOf(p(ErrorCode.NO_RESPONDERS)), GrpcStatus.UNAVAILABLE);
  assert.equal(statusOf(p(ErrorCode.PERMISSION_DENIED)), GrpcStatus.PERMISSION_DENIED);
  assert.equal(statusOf(p(ErrorCode.STORE_CORRUPT)), GrpcStatus.UNKNOWN);
  assert.equal(statusOf(new ServiceError('ALREADY_EXISTS', 'dup').toPlexusError()), GrpcStatus.ALREADY_EXISTS);
  assert.equal(statusOf(new ServiceError('OK', 'never a success').toPlexusError()), GrpcStatus.UNKNOWN);

  const deadline = fromStatus({ code: GrpcStatus.DEADLINE_EXCEEDED, details: 'too slow' });
  assert.equal(codeOf(deadline), ErrorCode.TIMEOUT);
  const auth = fromStatus({ code: GrpcStatus.UNAUTHENTICATED, details: 'who?' });
  assert.equal(codeOf(auth), ErrorCode.AUTH_FAILED);
  const missing = fromStatus({ code: GrpcStatus.NOT_FOUND, details: 'no row' });
  assert.ok(missing instanceof ServiceError);
  assert.equal(missing.code, 'NOT_FOUND');
  assert.equal(missing.message, 'no row');
  assert.deepEqual(missing.details, { grpcStatus: GrpcStatus.NOT_FOUND });
  // A malformed trailer falls back to the status.
  const md = new grpc.Metadata();
  md.set('plexus-error-bin', Buffer.from('{not json'));
  assert.equal(codeOf(fromStatus({ code: GrpcStatus.CANCELLED, details: 'c', metadata: md })), ErrorCode.CANCELLED);
});
