/**
 * Fixtures for the gRPC bridge tests: the S3 calculator proto and handlers, a plain
 * grpc-js client made by @grpc/proto-loader (no Plexus code on that side), and promise
 * wrappers for its calls.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_PATH } from '../../examples/s3-grpc-calculator/calculator.js';
import type { Cleanup } from '../helpers/plexus.js';

export { PROTO_PATH };

/** A grpc-js stub with the calculator's methods. */
export type CalculatorStub = grpc.Client & Record<string, (...args: unknown[]) => grpc.Call>;

/** A plain grpc-js client for calc.Calculator at `address`, closed by `cleanup`. */
export function plainClient(cleanup: Cleanup, address: string): CalculatorStub {
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(PROTO_PATH, { longs: String, defaults: true })) as unknown as {
    calc: { Calculator: new (address: string, creds: grpc.ChannelCredentials) => CalculatorStub };
  };
  const stub = new pkg.calc.Calculator(address, grpc.credentials.createInsecure());
  cleanup.defer(() => stub.close());
  return stub;
}

/** The outcome of a unary call: the reply, or the gRPC error. */
export interface UnaryOutcome<T> {
  readonly reply?: T;
  readonly error?: grpc.ServiceError;
  readonly call: grpc.ClientUnaryCall;
}

/** Start a unary call; `done` settles with its outcome (never rejects). */
export function unaryCall<T>(
  stub: CalculatorStub,
  method: string,
  request: object,
  options: grpc.CallOptions = {},
  metadata = new grpc.Metadata(),
): { call: grpc.ClientUnaryCall; done: Promise<UnaryOutcome<T>> } {
  let call!: grpc.ClientUnaryCall;
  const done = new Promise<UnaryOutcome<T>>((resolve) => {
    call = stub[method]!(request, metadata, options, (error: grpc.ServiceError | null, reply: T) =>
      resolve(error ? { error, call } : { reply, call }),
    ) as grpc.ClientUnaryCall;
  });
  return { call, done };
}

/** The JSON Plexus error in a status's `plexus-error-bin` trailer, if any. */
export function plexusTrailer(err: grpc.ServiceError | undefined): { code?: string; message?: string; details?: unknown } | undefined {
  const v = err?.metadata?.get('plexus-error-bin')[0];
  return v === undefined ? undefined : (JSON.parse(Buffer.from(v as Buffer).toString('utf8')) as { code?: string });
}
