/**
 * The gRPC bridge (issue 5 §5, scenario S3): serve `.proto` services through
 * @grpc/grpc-js with Plexus service handlers, and reach gRPC services from the bus.
 * @grpc/grpc-js is optional and loaded on first use. See docs/grpc.md.
 */
export { loadGrpc, type Grpc } from './load.js';
export {
  loadProtoService,
  protoService,
  protoContract,
  protoBusCodecs,
  messageSchema,
  grpcDefinition,
  DEFAULT_MAX_MESSAGE_BYTES,
  type ProtoService,
  type ProtoMethod,
  type ProtoServiceOptions,
  type ProtoContractOptions,
  type ProtoBusCodecs,
  type MessageCodec,
  type GrpcStreamKind,
} from './proto.js';
export { serveGrpc, type ServeGrpcOptions, type GrpcServer, type BidiHandler } from './server.js';
export { bridgeGrpcService, busForwarder, type BridgeGrpcOptions, type GrpcBridge } from './bridge.js';
export { GrpcStatus, STATUS_OF_PLEXUS_CODE, PLEXUS_ERROR_TRAILER, statusOf, statusName, fromStatus } from './status.js';
export { GrpcHandlerContext } from './context.js';
