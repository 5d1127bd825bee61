/**
 * HTTP/REST gateway (issue 5 §4, S2): service contracts over HTTP/JSON with an OpenAPI
 * 3.1 document. See docs/gateway.md.
 */
export { startGateway, OPENAPI_PATH, REQUEST_ID_RESPONSE_HEADER, type Gateway } from './gateway.js';
export { CALLER_HEADER, type Authenticate, type GatewayOptions, type GatewayRoute } from './options.js';
export { TIMEOUT_HEADER } from './http-input.js';
export { DEFAULT_SERVICE_STATUS, PLEXUS_STATUS, SERVICE_CODE_STATUS, errorResponse, serviceStatus, type HttpErrorBody, type StatusOverrides } from './status.js';
export { toJsonSchema, type JsonSchema, type SchemaConversion, type SchemaSide } from './json-schema.js';
export { OPENAPI_VERSION } from './openapi.js';
