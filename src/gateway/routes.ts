/** The gateway's route table: which HTTP path reaches which method of which contract. */
import type { MethodDefinition, ServiceContract } from '../contract/index.js';
import { ErrorCode, PlexusError } from '../errors/index.js';
import { toJsonSchema, type SchemaConversion } from './json-schema.js';
import type { ResolvedGatewayOptions } from './options.js';

/** One exposed method at one path. */
export interface Route {
  readonly path: string;
  readonly contract: ServiceContract;
  readonly method: string;
  readonly def: MethodDefinition;
  /** JSON Schema of the input (drives GET query coercion and the OpenAPI document). */
  readonly input: SchemaConversion;
  readonly output: SchemaConversion;
  /** An extra path (from `routes`) for a method that also has its generated one. */
  readonly alias?: boolean;
}

/** Routes by path, plus paths of client-streaming methods (answered with a clear 404). */
export interface RouteTable {
  readonly routes: ReadonlyMap<string, Route>;
  readonly streaming: ReadonlyMap<string, string>;
}

/**
 * Build the table: `<basePath>/<service>/<method>` for every unary and server-streaming
 * method, plus `routes`.
 */
export function buildRoutes(o: ResolvedGatewayOptions): RouteTable {
  const routes = new Map<string, Route>();
  const streaming = new Map<string, string>();
  const byMethod = new Map<string, Route>();
  for (const contract of o.services) {
    for (const [method, def] of Object.entries(contract.methods as Record<string, MethodDefinition>)) {
      const path = `${o.basePath}/${contract.name}/${method}`;
      if (def.stream === 'client') {
        streaming.set(path, `${contract.name}.${method} is a client-streaming method; call it over Plexus, not HTTP`);
        continue;
      }
      const given = Object.prototype.hasOwnProperty.call(o.schemas, `${contract.name}.${method}`) ? o.schemas[`${contract.name}.${method}`] : undefined;
      const input = given?.input ? { schema: given.input } : toJsonSchema(def.input, 'input');
      const output = given?.output ? { schema: given.output } : toJsonSchema(def.output, 'output');
      const route: Route = { path, contract, method, def, input, output };
      routes.set(path, route);
      byMethod.set(`${contract.name}.${method}`, route);
    }
  }
  for (const key of Object.keys(o.schemas)) {
    if (!byMethod.has(key)) throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `schemas: no unary or server-streaming method ${key} among the services`);
  }
  for (const extra of o.routes) {
    const target = byMethod.get(`${extra.service}.${extra.method}`);
    if (!target) {
      throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `route ${extra.path}: no unary or server-streaming method ${extra.service}.${extra.method} among the services`);
    }
    if (routes.has(extra.path) || extra.path === '/openapi.json') {
      throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `route ${extra.path} is already taken`);
    }
    routes.set(extra.path, { ...target, path: extra.path, alias: true });
  }
  return { routes, streaming };
}
