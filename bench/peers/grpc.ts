/** @grpc/grpc-js unary adapters: the tiny Echo service in bench/echo.proto. */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { Requester, Responder } from './types.js';

/** bench/echo.proto, found from dist/bench/peers at run time. */
const PROTO = fileURLToPath(new URL('../../../bench/echo.proto', import.meta.url));

interface EchoMessage {
  data: Buffer;
}

function echoService(): grpc.ServiceClientConstructor {
  const def = protoLoader.loadSync(PROTO, { keepCase: true, defaults: true });
  const pkg = grpc.loadPackageDefinition(def)['plexusbench'] as grpc.GrpcObject;
  return pkg['Echo'] as grpc.ServiceClientConstructor;
}

export async function grpcResponder(): Promise<Responder> {
  const Echo = echoService();
  const server = new grpc.Server();
  server.addService(Echo.service, {
    Call: (call: grpc.ServerUnaryCall<EchoMessage, EchoMessage>, cb: grpc.sendUnaryData<EchoMessage>) => cb(null, { data: call.request.data }),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    address: `127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}

export async function grpcRequester(address: string): Promise<Requester> {
  const Echo = echoService();
  const client = new Echo(address, grpc.credentials.createInsecure());
  await new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + 5000, (err) => (err ? reject(err) : resolve())));
  const call = (client as unknown as Record<string, (req: EchoMessage, cb: (err: grpc.ServiceError | null, res: EchoMessage) => void) => void>)['Call']!.bind(client);
  return {
    call: (payload) =>
      new Promise<number>((resolve, reject) =>
        call({ data: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength) }, (err, res) => (err ? reject(err) : resolve(res.data.length))),
      ),
    close: async () => client.close(),
  };
}
