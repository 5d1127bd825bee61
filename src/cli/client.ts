/** Turning the connection flags into a `connect` call with errors a person can act on. */
import { readFileSync } from 'node:fs';
import { ErrorCode, PlexusError, connect, defaultUrl, type ConnectOptions, type Connection } from '../index.js';
import { str, UsageError, type ParsedArgs } from './args.js';

/** The broker address(es) the flags name: --url, else $PLEXUS_URL, else the per-user socket. */
export function brokerUrls(args: ParsedArgs): string[] {
  const raw = str(args, 'url') ?? defaultUrl();
  return raw
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '');
}

/** Connect options from the flags and the PLEXUS_TOKEN / PLEXUS_USER / PLEXUS_PASS variables. */
export function connectOptions(args: ParsedArgs, command: string, extra: Partial<ConnectOptions> = {}): ConnectOptions {
  const token = str(args, 'token') ?? process.env['PLEXUS_TOKEN'];
  const user = str(args, 'user') ?? process.env['PLEXUS_USER'];
  const pass = str(args, 'pass') ?? process.env['PLEXUS_PASS'];
  const tls: Record<string, Buffer> = {};
  for (const [flagName, key] of [['tls-ca', 'ca'], ['tls-cert', 'cert'], ['tls-key', 'key']] as const) {
    const file = str(args, flagName);
    if (file !== undefined) tls[key] = readFileOrUsage(file, flagName, command);
  }
  return {
    name: `plexus ${command}`,
    ...(token ? { token } : {}),
    ...(user ? { user } : {}),
    ...(pass !== undefined && user ? { pass } : {}),
    ...(Object.keys(tls).length > 0 ? { tls } : {}),
    ...extra,
  };
}

/** Connect, turning "nobody is listening" into advice. */
export async function connectFromArgs(args: ParsedArgs, command: string, extra: Partial<ConnectOptions> = {}): Promise<Connection> {
  const urls = brokerUrls(args);
  try {
    return await connect(urls, connectOptions(args, command, extra));
  } catch (err) {
    if (err instanceof PlexusError && err.code === ErrorCode.CONNECT_FAILED) {
      throw new PlexusError(
        ErrorCode.CONNECT_FAILED,
        `${err.message} — is a broker running? Start one with \`plexus up\`, or point --url / PLEXUS_URL at yours`,
        { cause: err },
      );
    }
    throw err;
  }
}

/** Read a file named by a flag; a missing file is a usage error naming the flag. */
export function readFileOrUsage(file: string, flagName: string, command: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UsageError(`--${flagName}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, command);
  }
}

/** Resolve on the first SIGINT/SIGTERM; the returned function removes the handlers. */
export function onStopSignal(handler: (signal: NodeJS.Signals) => void): () => void {
  const h = (signal: NodeJS.Signals): void => handler(signal);
  process.once('SIGINT', h);
  process.once('SIGTERM', h);
  return () => {
    process.off('SIGINT', h);
    process.off('SIGTERM', h);
  };
}
