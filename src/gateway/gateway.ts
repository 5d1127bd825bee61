/**
 * The HTTP/REST gateway (S2): exposes service contracts over HTTP/JSON with node:http.
 *
 *   POST <basePath>/<service>/<method>   JSON body → input
 *   GET  <basePath>/<service>/<method>?… query → input (methods marked `safe` only)
 *   GET  /openapi.json                   OpenAPI 3.1 document generated from the schemas
 *
 * Server-streaming methods answer NDJSON (ndjson.ts); client-streaming ones are not exposed.
 *
 * Each request becomes one `callMethod` with the deadline from `x-plexus-timeout-ms`
 * (capped), cancelled when the HTTP client goes away; errors come back as
 * `{ code, message, details }` with a status from the table in status.ts.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { callMethod, callServerStream } from '../contract/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { queryToInput, readJsonBody, requestedTimeout } from './http-input.js';
import { sendNdjson } from './ndjson.js';
import { buildOpenApi } from './openapi.js';
import { CALLER_HEADER, resolveGatewayOptions, type GatewayOptions, type ResolvedGatewayOptions } from './options.js';
import { buildRoutes, type Route, type RouteTable } from './routes.js';
import { errorResponse } from './status.js';

/** Path of the generated OpenAPI document. */
export const OPENAPI_PATH = '/openapi.json';
/** Response header echoing the request id (the caller's `request-id`, else a new one). */
export const REQUEST_ID_RESPONSE_HEADER = 'request-id';
/** A request id taken from the caller: 1–128 visible ASCII characters. */
const REQUEST_ID_PATTERN = /^[\x21-\x7e]{1,128}$/;
/** Longest time `close()` waits for running calls before dropping their connections. */
const CLOSE_GRACE_MS = 5000;

/** A running gateway. */
export interface Gateway {
  /** `http://host:port` with the real port. */
  readonly url: string;
  /** Calls running right now. */
  readonly inFlight: number;
  /** The generated OpenAPI document. */
  readonly openapi: Readonly<Record<string, unknown>>;
  /** Stop listening, let running calls finish (up to 5 s), close idle connections. */
  close(): Promise<void>;
}

/** Start an HTTP gateway for `services` on `bus`. */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const o = resolveGatewayOptions(options);
  const table = buildRoutes(o);
  const openapi = buildOpenApi(table, o);
  const handler = new GatewayHandler(o, table, JSON.stringify(openapi));
  const server = createServer({ requestTimeout: o.maxTimeoutMs + 30_000 }, (req, res) => handler.handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new PlexusError(ErrorCode.CONNECT_FAILED, `gateway cannot listen on ${o.host}:${o.port}: ${err.message}`, { cause: err })));
    server.listen(o.port, o.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    get inFlight() {
      return handler.inFlight;
    },
    openapi,
    close: () => closeServer(server),
  };
}

async function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)));
  await Promise.race([closed, grace]);
  clearTimeout(timer);
  server.closeAllConnections();
  await closed;
}

class GatewayHandler {
  inFlight = 0;

  constructor(
    private readonly o: ResolvedGatewayOptions,
    private readonly table: RouteTable,
    private readonly openapiJson: string,
  ) {}

  handle(req: IncomingMessage, res: ServerResponse): void {
    // The caller's id is kept when it is a sane token; it travels in headers and logs.
    const given = firstHeader(req, 'request-id');
    const requestId = given !== undefined && REQUEST_ID_PATTERN.test(given) ? given : randomUUID();
    res.setHeader(REQUEST_ID_RESPONSE_HEADER, requestId);
    this.route(req, res, requestId).catch((err: unknown) => this.fail(res, err));
  }

  private async route(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    // Parsed against a fixed origin by concatenation, so `//host/x` stays a path (404)
    // instead of being read as a network-path reference to another host.
    const raw = req.url ?? '/';
    let url: URL;
    try {
      url = raw.startsWith('/') ? new URL(`http://gateway${raw}`) : new URL(raw);
    } catch {
      throw new PlexusError(ErrorCode.ROUTE_NOT_FOUND, 'the request target is not a path');
    }
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
    if (path === OPENAPI_PATH) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return this.notAllowed(res, 'GET');
      return send(res, 200, this.openapiJson, req.method === 'HEAD');
    }
    const route = this.table.routes.get(path);
    if (!route) {
      const why = this.table.streaming.get(path) ?? `no method at ${path}; see ${OPENAPI_PATH}`;
      throw new PlexusError(ErrorCode.ROUTE_NOT_FOUND, why);
    }
    const allowed = route.def.safe === true ? 'GET, POST' : 'POST';
    if (req.method !== 'POST' && !(req.method === 'GET' && route.def.safe === true)) return this.notAllowed(res, allowed, route);
    if (this.inFlight >= this.o.maxInFlight) {
      throw new PlexusError(ErrorCode.GATEWAY_BUSY, `the gateway is running ${this.o.maxInFlight} calls already; try again`);
    }
    this.inFlight++;
    try {
      await this.call(req, res, route, url, requestId);
    } finally {
      this.inFlight--;
    }
  }

  private async call(req: IncomingMessage, res: ServerResponse, route: Route, url: URL, requestId: string): Promise<void> {
    const timeoutMs = requestedTimeout(req, this.o.maxTimeoutMs) ?? Math.min(route.def.timeoutMs ?? this.o.defaultTimeoutMs, this.o.maxTimeoutMs);
    const headers = await this.serviceHeaders(req, requestId);
    const input = req.method === 'GET' ? queryToInput(url.searchParams, route.input.schema) : await readJsonBody(req, this.o.maxBodyBytes);
    // The HTTP client hanging up cancels the call, and the cancel travels to the handler.
    const gone = new AbortController();
    const onClose = (): void => {
      if (!res.writableFinished) gone.abort(new PlexusError(ErrorCode.CANCELLED, 'the HTTP client went away'));
    };
    res.once('close', onClose);
    try {
      const options = { timeoutMs, signal: gone.signal, headers };
      if (route.def.stream === 'server') {
        await sendNdjson(res, callServerStream(this.o.bus, route.contract, route.method, input, options), gone.signal, this.o.statusOverrides);
        return;
      }
      const output = await callMethod(this.o.bus, route.contract, route.method, input, options);
      send(res, 200, JSON.stringify(output ?? null));
    } finally {
      res.off('close', onClose);
    }
  }

  /** Headers for the service: the allowed pass-through ones, the request id, the caller. */
  private async serviceHeaders(req: IncomingMessage, requestId: string): Promise<Record<string, string>> {
    const headers: Record<string, string> = {};
    for (const name of this.o.forwardHeaders) {
      const value = firstHeader(req, name);
      if (value !== undefined) headers[name] = value;
    }
    headers['request-id'] = requestId;
    if (this.o.authenticate) {
      let caller: string | undefined;
      try {
        caller = await this.o.authenticate(req);
      } catch {
        caller = undefined; // a failing check is a refusal, not a 500 that leaks why
      }
      if (typeof caller !== 'string' || caller === '') throw new PlexusError(ErrorCode.AUTH_FAILED, 'authentication required');
      headers[CALLER_HEADER] = caller;
    }
    return headers;
  }

  private notAllowed(res: ServerResponse, allow: string, route?: Route): void {
    res.setHeader('allow', allow);
    const what = route ? `${route.contract.name}.${route.method}` : OPENAPI_PATH;
    const hint = allow === 'POST' && route ? ' (only methods marked safe accept GET)' : '';
    this.fail(res, new PlexusError(ErrorCode.METHOD_NOT_ALLOWED, `${what} accepts ${allow}${hint}`));
  }

  private fail(res: ServerResponse, err: unknown): void {
    const { status, body } = errorResponse(err, this.o.statusOverrides);
    if (status === 500 && !(err instanceof PlexusError)) this.o.onError(err);
    if (res.headersSent || res.destroyed) return;
    // After a refused body the rest of it is unread: close rather than reuse the socket.
    if (status === 413) res.setHeader('connection', 'close');
    if (status === 401) res.setHeader('www-authenticate', 'Bearer');
    send(res, status, JSON.stringify(body));
  }
}

function firstHeader(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function send(res: ServerResponse, status: number, json: string, headOnly = false): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) });
  res.end(headOnly ? undefined : json);
}
