import { ErrorCode, PlexusError } from '../errors/index.js';

/**
 * Load a backend's client package on first use. Backend clients are optional
 * dependencies: a program that never dials `nats://` must not need `nats` installed,
 * so the import is dynamic and a missing package becomes a coded error naming it.
 */
export async function loadBackendClient<T>(pkg: string, scheme: string): Promise<T> {
  try {
    return (await import(pkg)) as T;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new PlexusError(
        ErrorCode.BACKEND_UNAVAILABLE,
        `${scheme}:// URLs need the optional package '${pkg}', which is not installed (npm install ${pkg})`,
        { cause: err },
      );
    }
    throw err;
  }
}
