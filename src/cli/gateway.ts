/** `plexus gateway` — expose service contracts over HTTP/JSON with an OpenAPI document. */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isServiceContract, type ServiceContract } from '../contract/index.js';
import { startGateway, type GatewayRoute } from '../gateway/index.js';
import { int, list, size, str, UsageError, type OptionSpecs, type ParsedArgs } from './args.js';
import { connectFromArgs, onStopSignal } from './client.js';
import type { Command } from './command.js';

const NAME = 'gateway';

const options: OptionSpecs = {
  services: { type: 'string', multiple: true, arg: 'MODULE', help: 'a JS module whose exports include service contracts (defineService)' },
  listen: { type: 'string', arg: 'URL', help: 'HTTP address (default http://127.0.0.1:8080)' },
  'base-path': { type: 'string', arg: 'PATH', help: 'prefix of <path>/<service>/<method> (default /api)' },
  route: { type: 'string', multiple: true, arg: 'PATH=SERVICE.METHOD', help: 'an extra exact path for a method, e.g. /users=users.list' },
  'max-body': { type: 'string', arg: 'BYTES', help: 'largest request body (default 1MiB)' },
  timeout: { type: 'string', arg: 'MS', help: 'deadline when the request and the method set none (default 10000)' },
  'max-timeout': { type: 'string', arg: 'MS', help: 'cap on any deadline, x-plexus-timeout-ms included (default 60000)' },
  'max-in-flight': { type: 'string', arg: 'N', help: 'calls running at once before 503 (default 1024)' },
};

/** Every service contract a module exports (also inside exported arrays). */
async function loadContracts(modules: readonly string[]): Promise<ServiceContract[]> {
  const found: ServiceContract[] = [];
  for (const file of modules) {
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(resolve(file)).href)) as Record<string, unknown>;
    } catch (err) {
      throw new UsageError(`--services ${file}: cannot load it: ${(err as Error).message}`, NAME);
    }
    const before = found.length;
    for (const value of Object.values(mod)) {
      for (const v of Array.isArray(value) ? value : [value]) {
        if (isServiceContract(v) && !found.some((c) => c.name === v.name)) found.push(v);
      }
    }
    if (found.length === before) throw new UsageError(`--services ${file} exports no service contract (made by defineService)`, NAME);
  }
  return found;
}

function parseRoutes(specs: readonly string[]): GatewayRoute[] {
  return specs.map((spec) => {
    const m = /^(\/[^=]*)=([^.=]+)\.([^.=]+)$/.exec(spec);
    if (!m) throw new UsageError(`--route ${spec}: expected PATH=SERVICE.METHOD, e.g. /users=users.list`, NAME);
    return { path: m[1]!, service: m[2]!, method: m[3]! };
  });
}

async function run(args: ParsedArgs): Promise<number> {
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${args.positionals[0]}`, NAME);
  const modules = list(args, 'services');
  if (modules.length === 0) throw new UsageError('--services MODULE is required (a module exporting defineService contracts)', NAME);
  const services = await loadContracts(modules);
  const maxBodyBytes = size(args, NAME, 'max-body', undefined, 0);
  // Every flag is checked before connecting, so a typo never waits on the network.
  const settings = {
    services,
    listen: str(args, 'listen') ?? 'http://127.0.0.1:8080',
    routes: parseRoutes(list(args, 'route')),
    defaultTimeoutMs: int(args, NAME, 'timeout', 10_000, 1, 2 ** 31 - 1),
    maxTimeoutMs: int(args, NAME, 'max-timeout', 60_000, 1, 2 ** 31 - 1),
    maxInFlight: int(args, NAME, 'max-in-flight', 1024, 1, 1_000_000),
    ...(maxBodyBytes !== undefined ? { maxBodyBytes } : {}),
    ...(str(args, 'base-path') !== undefined ? { basePath: str(args, 'base-path')! } : {}),
  };
  const bus = await connectFromArgs(args, NAME);
  try {
    const gateway = await startGateway({ bus, ...settings });
    process.stdout.write(`gateway listening on ${gateway.url} for ${services.map((s) => `${s.name}@${s.version}`).join(', ')} (OpenAPI at ${gateway.url}/openapi.json)\n`);
    await new Promise<void>((done) => {
      const stop = onStopSignal(() => {
        stop();
        done();
      });
    });
    await gateway.close();
  } finally {
    await bus.close();
  }
  return 0;
}

export const gatewayCommand: Command = {
  name: NAME,
  summary: 'serve service contracts over HTTP/JSON (+ OpenAPI) until SIGINT/SIGTERM',
  usage: ['gateway --services MODULE [--listen URL] [--route PATH=SERVICE.METHOD]... [limits]'],
  description:
    'Loads the service contracts a module exports and answers POST <base>/<service>/<method> with a JSON body (GET with a query for methods marked safe), calling the services over the bus. The deadline comes from the x-plexus-timeout-ms header, capped by --max-timeout. Errors are JSON { code, message, details } with statuses from the table in docs/gateway.md. The OpenAPI 3.1 document is at /openapi.json.',
  examples: ['plexus gateway --services ./dist/contracts.js --listen http://127.0.0.1:8080', 'plexus gateway --services ./users.js --route /users=users.list'],
  options,
  client: true,
  run,
};
