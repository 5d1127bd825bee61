/**
 * @grpc/grpc-js is optional: only the gRPC bridge needs it, so it is loaded on first use
 * with a dynamic import, and its absence is a coded error that says what to install.
 */
import type * as GrpcJs from '@grpc/grpc-js';
import { ErrorCode, PlexusError } from '../errors/index.js';

/** The grpc-js module. */
export type Grpc = typeof GrpcJs;

let loading: Promise<Grpc> | undefined;

/**
 * Load @grpc/grpc-js (once).
 * @throws PLEXUS_ERR_CONFIG when the package is not installed.
 */
export function loadGrpc(): Promise<Grpc> {
  return (loading ??= importGrpc('@grpc/grpc-js').catch((err: unknown) => {
    loading = undefined; // installed later (or fixed): the next call tries again
    throw err;
  }));
}

/**
 * Import grpc-js by module name. @internal exported so tests can name a missing package.
 */
export async function importGrpc(name: string): Promise<Grpc> {
  // A variable specifier keeps bundlers and tsc from treating it as a hard dependency.
  try {
    const mod = (await import(name)) as Grpc & { default?: Grpc };
    // CommonJS under ESM: the named exports may only be on `default`.
    return typeof mod.Server === 'function' ? mod : mod.default!;
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND';
    throw new PlexusError(
      ErrorCode.CONFIG,
      missing ? `the gRPC bridge needs ${name}: npm install ${name}` : `cannot load ${name}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}
