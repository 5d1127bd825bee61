/**
 * S3 — gRPC `Calculator.Add` from a `.proto`, binary protobuf.
 *
 * One set of Plexus handlers (calculator.ts) is served twice: through @grpc/grpc-js
 * (`serveGrpc`) and on the bus (`serveService` with protobuf codecs). A plain grpc-js
 * client, which knows nothing of Plexus, calls Add over gRPC; a Plexus client calls the
 * same handler over the bus with a binary protobuf payload; and an error thrown as a
 * ServiceError arrives as a gRPC status on one side and as the same ServiceError on the
 * other.
 *
 * Usage: node dist/examples/s3-grpc-calculator/main.js
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { callMethod, callServerStream, connect, serveService, startBroker, type ServiceImpl } from '../../src/index.js';
import { loadProtoService, protoBusCodecs, protoContract, serveGrpc } from '../../src/grpc/index.js';
import { PROTO_PATH, calculatorHandlers } from './calculator.js';

const broker = await startBroker({ listen: ['tcp://127.0.0.1:0'] });
const bus = await connect(broker.urls[0]!, { name: 's3-calculator' });
try {
  const proto = await loadProtoService(PROTO_PATH, 'calc.Calculator');
  const handlers = calculatorHandlers();

  // gRPC: every rpc, streaming included.
  const contract = protoContract(proto, { name: 'calculator', version: '1.0.0' });
  const grpcServer = await serveGrpc(contract, handlers as unknown as ServiceImpl<typeof contract>, { proto });
  console.log(`gRPC server on ${grpcServer.address}`);

  // The bus: the same contract (bidirectional rpcs aside), in binary protobuf.
  const busContract = contract;
  const codecs = protoBusCodecs(proto);
  const served = serveService(bus, busContract, handlers as unknown as ServiceImpl<typeof busContract>, { codecs: codecs.server });
  await served.ready();
  console.log(`bus service on ${served.subjects['Add']}`);

  // 1. A plain grpc-js client, from the same .proto via @grpc/proto-loader.
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(PROTO_PATH)) as unknown as {
    calc: { Calculator: new (address: string, creds: grpc.ChannelCredentials) => grpc.Client & Record<string, (...args: unknown[]) => unknown> };
  };
  const stub = new pkg.calc.Calculator(grpcServer.address, grpc.credentials.createInsecure());
  const viaGrpc = await new Promise<{ sum: number }>((resolve, reject) =>
    stub['Add']!({ a: 2, b: 3 }, (err: Error | null, reply: { sum: number }) => (err ? reject(err) : resolve(reply))),
  );
  console.log(`grpc-js client: Add(2, 3) = ${viaGrpc.sum}`);
  const grpcError = await new Promise<grpc.ServiceError>((resolve) =>
    stub['Divide']!({ a: 1, b: 0 }, (err: grpc.ServiceError | null) => resolve(err!)),
  );
  console.log(`grpc-js client: Divide(1, 0) -> status ${grpc.status[grpcError.code]} "${grpcError.details}"`);
  stub.close();

  // 2. A Plexus client over the bus; the payload is the protobuf encoding of AddRequest.
  const request = codecs.client['Add']!.encode({ a: 2, b: 3 });
  console.log(`bus request payload: ${request.length} bytes protobuf ${Buffer.from(request).toString('hex')}`);
  const viaBus = (await callMethod(bus, busContract, 'Add', { a: 2, b: 3 }, { codec: codecs.client['Add']! })) as { sum: number };
  console.log(`plexus client: Add(2, 3) = ${viaBus.sum}`);
  const counted: unknown[] = [];
  for await (const item of callServerStream(bus, busContract, 'Count', { to: 3 }, { codec: codecs.client['Count']! })) counted.push((item as { n: number }).n);
  console.log(`plexus client: Count(3) = ${counted.join(' ')}`);
  try {
    await callMethod(bus, busContract, 'Divide', { a: 1, b: 0 }, { codec: codecs.client['Divide']! });
  } catch (err) {
    const e = err as { name: string; code: string; message: string; details: unknown };
    console.log(`plexus client: Divide(1, 0) -> ${e.name} ${e.code} "${e.message}" ${JSON.stringify(e.details)}`);
  }

  await served.close();
  await grpcServer.close();
} finally {
  await bus.close();
  await broker.close({ drainMs: 100 });
}
