/** Options of the HTTP gateway, their defaults, and the checks applied once at start. */
import type { IncomingMessage } from 'node:http';
import type { Connection } from '../client/index.js';
import { isServiceContract, type ServiceContract } from '../contract/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import type { JsonSchema } from './json-schema.js';
import type { StatusOverrides } from './status.js';

/** An extra path for one method, e.g. `{ path: '/users', service: 'users', method: 'list' }`. */
export interface GatewayRoute {
  /** Absolute path, matched exactly (no parameters). */
  readonly path: string;
  readonly service: string;
  readonly method: string;
}

/** Who the HTTP caller is, as an `authenticate` hook decided. */
export type Authenticate = (req: IncomingMessage) => string | undefined | Promise<string | undefined>;

/** Options of {@link startGateway}. */
export interface GatewayOptions {
  /** The connection requests go out on; the gateway does not close it. */
  readonly bus: Connection;
  /** The services to expose. Streaming methods are left out (HTTP/JSON is unary here). */
  readonly services: readonly ServiceContract[];
  /** Where to listen, `http://host:port` (port 0 picks one). @default 'http://127.0.0.1:0' */
  readonly listen?: string;
  /** Prefix of the generated paths `<basePath>/<service>/<method>`. @default '/api' */
  readonly basePath?: string;
  /** Extra exact paths for chosen methods (same GET/POST rules). */
  readonly routes?: readonly GatewayRoute[];
  /** Largest request body accepted (413 above it). @default 1048576 */
  readonly maxBodyBytes?: number;
  /** Deadline when neither the request header nor the method sets one. @default 10000 */
  readonly defaultTimeoutMs?: number;
  /** Cap on any deadline, the `x-plexus-timeout-ms` header included. @default 60000 */
  readonly maxTimeoutMs?: number;
  /** Calls running at once; more get 503 `PLEXUS_ERR_GATEWAY_BUSY`. @default 1024 */
  readonly maxInFlight?: number;
  /**
   * Decide who the HTTP caller is (check a bearer token, a session cookie, …). Returning
   * undefined (or throwing) answers 401; the identity is passed to services in the
   * `x-plexus-caller` header. Without it calls go out anonymous (no such header).
   */
  readonly authenticate?: Authenticate;
  /** Request headers passed through to services (lower case). @default traceparent, tracestate, request-id */
  readonly forwardHeaders?: readonly string[];
  /** Status per error code, before the built-in table (e.g. `{ RIDE_UNAVAILABLE: 409 }`). */
  readonly statusOverrides?: StatusOverrides;
  /**
   * JSON Schemas for the OpenAPI document by `<service>.<method>`, used instead of the
   * converted ones: for schema libraries with no JSON Schema export, or to document more
   * than a converter can say. Request handling does not use them beyond GET query
   * coercion; the contract's own schemas still validate.
   */
  readonly schemas?: Readonly<Record<string, { readonly input?: JsonSchema; readonly output?: JsonSchema }>>;
  /** `info` of the OpenAPI document. */
  readonly info?: { readonly title?: string; readonly version?: string; readonly description?: string };
  /** Where unexpected (non-Plexus) errors are reported. @default console.error */
  readonly onError?: (err: unknown) => void;
}

/** Options after defaults. */
export interface ResolvedGatewayOptions {
  readonly bus: Connection;
  readonly services: readonly ServiceContract[];
  readonly host: string;
  readonly port: number;
  readonly basePath: string;
  readonly routes: readonly GatewayRoute[];
  readonly maxBodyBytes: number;
  readonly defaultTimeoutMs: number;
  readonly maxTimeoutMs: number;
  readonly maxInFlight: number;
  readonly authenticate: Authenticate | undefined;
  readonly forwardHeaders: readonly string[];
  readonly statusOverrides: StatusOverrides;
  readonly schemas: Readonly<Record<string, { readonly input?: JsonSchema; readonly output?: JsonSchema }>>;
  readonly info: { readonly title: string; readonly version: string; readonly description?: string };
  readonly onError: (err: unknown) => void;
}

/** Largest `maxBodyBytes`: a body is held in memory whole before it is validated. */
export const MAX_BODY_LIMIT = 64 * 1024 * 1024;
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Headers the gateway itself sets for services; never copied from the HTTP request. */
export const CALLER_HEADER = 'x-plexus-caller';

function invalid(message: string): PlexusError {
  return new PlexusError(ErrorCode.INVALID_ARGUMENT, message);
}

function intIn(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min || v > max) throw invalid(`${name} must be an integer from ${min} to ${max}, got ${v}`);
  return v;
}

/** Parse `http://host:port`. */
export function parseHttpListen(listen: string): { host: string; port: number } {
  let url: URL;
  try {
    url = new URL(listen);
  } catch {
    throw new PlexusError(ErrorCode.INVALID_URL, `gateway listen address must look like http://127.0.0.1:8080, got ${listen}`);
  }
  if (url.protocol !== 'http:') throw new PlexusError(ErrorCode.UNSUPPORTED_TRANSPORT, `the gateway listens on http:// only, got ${listen}`);
  if (url.pathname !== '/' || url.search !== '' || url.username !== '') throw new PlexusError(ErrorCode.INVALID_URL, `no path, query or user in ${listen}`);
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port === '' ? 80 : Number(url.port) };
}

/** Apply defaults and check everything once. */
export function resolveGatewayOptions(o: GatewayOptions): ResolvedGatewayOptions {
  if (!o || typeof o.bus?.request !== 'function') throw invalid('startGateway needs a bus (a connected Connection)');
  if (!Array.isArray(o.services) || o.services.length === 0) throw invalid('startGateway needs at least one service contract');
  const names = new Set<string>();
  for (const s of o.services) {
    if (!isServiceContract(s)) throw invalid('services must be contracts made by defineService');
    if (names.has(s.name)) throw invalid(`service ${s.name} is listed twice`);
    names.add(s.name);
  }
  const basePath = (o.basePath ?? '/api').replace(/\/+$/, '');
  if (basePath !== '' && !/^(\/[A-Za-z0-9._~-]+)+$/.test(basePath)) throw invalid(`basePath must be like /api, got ${o.basePath}`);
  for (const r of o.routes ?? []) {
    if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(r.path)) throw invalid(`route path must be like /users, got ${r.path}`);
  }
  const maxTimeoutMs = intIn('maxTimeoutMs', o.maxTimeoutMs, 60_000, 1, MAX_TIMER_MS);
  return {
    bus: o.bus,
    services: o.services,
    ...parseHttpListen(o.listen ?? 'http://127.0.0.1:0'),
    basePath,
    routes: o.routes ?? [],
    maxBodyBytes: intIn('maxBodyBytes', o.maxBodyBytes, 1024 * 1024, 0, MAX_BODY_LIMIT),
    defaultTimeoutMs: Math.min(intIn('defaultTimeoutMs', o.defaultTimeoutMs, 10_000, 1, MAX_TIMER_MS), maxTimeoutMs),
    maxTimeoutMs,
    maxInFlight: intIn('maxInFlight', o.maxInFlight, 1024, 1, 1_000_000),
    authenticate: o.authenticate,
    forwardHeaders: (o.forwardHeaders ?? ['traceparent', 'tracestate', 'request-id'])
      .map((h) => h.toLowerCase())
      .filter((h) => h !== CALLER_HEADER && !h.startsWith(':')),
    statusOverrides: o.statusOverrides ?? {},
    schemas: o.schemas ?? {},
    info: {
      title: o.info?.title ?? 'Plexus HTTP gateway',
      version: o.info?.version ?? o.services.map((s) => `${s.name}@${s.version}`).join(', '),
      ...(o.info?.description !== undefined ? { description: o.info.description } : {}),
    },
    onError: o.onError ?? ((err) => console.error('plexus gateway:', err)),
  };
}
