/**
 * What every demo process shares: connect with the URL and token `plexus up` hands it,
 * print one line per event (the parent prefixes it with the process's name), and exit
 * quietly when told to stop or when the parent goes away.
 */
import { connect, type Connection } from '../../index.js';

/** Print one line of the demo log. */
export function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Connect as `role`; stop cleanly on SIGTERM/SIGINT or when the parent's IPC channel closes. */
export async function demoConnect(role: string): Promise<Connection> {
  const url = process.env['PLEXUS_DEMO_URL'];
  if (!url) {
    process.stderr.write(`${role}: run me through \`plexus up\` (PLEXUS_DEMO_URL is not set)\n`);
    process.exit(2);
  }
  const token = process.env['PLEXUS_DEMO_TOKEN'];
  const bus = await connect(url, { name: `demo ${role}`, ...(token ? { token } : {}), reconnect: false });
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void bus.close().finally(() => process.exit(0));
    // Never linger: if closing stalls, go anyway.
    setTimeout(() => process.exit(0), 1000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.once('disconnect', stop);
  void bus.closed.then((err) => {
    if (stopping) return;
    process.stderr.write(`${role}: connection closed${err ? `: ${err.message} (${err.code})` : ''}\n`);
    process.exit(err ? 1 : 0);
  });
  return bus;
}

/** Tell `plexus up` this process is connected and listening. */
export function ready(): void {
  process.send?.({ type: 'ready' });
}

/** Report a startup failure readably and exit. */
export function fail(role: string, err: unknown): never {
  const e = err as { message?: string; code?: string };
  process.stderr.write(`${role}: ${e.message ?? String(err)}${e.code ? ` (${e.code})` : ''}\n`);
  process.exit(1);
}
