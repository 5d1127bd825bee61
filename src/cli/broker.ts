/** `plexus broker` — run the broker as a daemon until SIGINT/SIGTERM. */
import { hostname } from 'node:os';
import { loadAuthConfig, type ServerOptions, type SlowConsumerPolicy } from '../index.js';
import { flag, int, list, positionals, size, str, UsageError, type OptionSpecs, type ParsedArgs } from './args.js';
import { onStopSignal, readFileOrUsage } from './client.js';
import type { Command } from './command.js';
import { DEFAULT_HTTP, defaultDataDir, defaultListen, describeBroker, startBrokerFromFlags } from './serve-broker.js';

/** Flags `plexus broker` and `plexus up` share for the embedded durable service. */
export const durableFlags: OptionSpecs = {
  'data-dir': { type: 'string', arg: 'DIR', help: 'durable data (streams, queues, mailboxes, KV) lives here (default: $PLEXUS_DATA_DIR or ~/.local/state/plexus)' },
  'no-durable': { type: 'boolean', help: 'run without the durable service (plain pub/sub and request/reply only)' },
};

const NAME = 'broker';
const POLICIES: readonly SlowConsumerPolicy[] = ['block', 'disconnect', 'drop'];

const options: OptionSpecs = {
  listen: { type: 'string', multiple: true, arg: 'URL', help: 'address to listen on: unix://, tcp://, tls://, ws://, wss:// (default: the per-user socket and tcp://127.0.0.1:4850)' },
  http: { type: 'string', arg: 'URL', help: `monitor address, loopback only (default: ${DEFAULT_HTTP})` },
  'no-http': { type: 'boolean', help: 'no monitor endpoint' },
  auth: { type: 'string', arg: 'FILE', help: 'JSON auth config: users, tokens, password hashes, permissions' },
  'tls-cert': { type: 'string', arg: 'FILE', help: 'server certificate (PEM) for tls:// and wss://' },
  'tls-key': { type: 'string', arg: 'FILE', help: 'server private key (PEM)' },
  'tls-ca': { type: 'string', arg: 'FILE', help: 'CA certificate(s) that sign client certificates' },
  'tls-verify-clients': { type: 'boolean', help: 'require a client certificate signed by --tls-ca (mutual TLS)' },
  'max-payload': { type: 'string', arg: 'BYTES', help: 'largest payload accepted (default 1MiB; max 64MiB)' },
  'max-pending': { type: 'string', arg: 'BYTES', help: 'outbound bytes queued per connection before it is slow (default 64MiB)' },
  'slow-consumer': { type: 'string', arg: 'POLICY', help: 'block (default), disconnect or drop' },
  'write-deadline': { type: 'string', arg: 'MS', help: 'how long a connection may stay slow under "block" (default 5000)' },
  'max-connections': { type: 'string', arg: 'N', help: 'default 10000' },
  'max-subscriptions': { type: 'string', arg: 'N', help: 'per connection, default 65536' },
  'auth-timeout': { type: 'string', arg: 'MS', help: 'time allowed to send a valid HELLO (default 5000)' },
  heartbeat: { type: 'string', arg: 'MS', help: 'ping interval; silent for 3 intervals = dropped (default 5000)' },
  'socket-mode': { type: 'string', arg: 'OCTAL', help: 'file mode of unix sockets (default 600)' },
  'server-id': { type: 'string', arg: 'NAME', help: 'name shown in WELCOME and /status (default: random)' },
  ...durableFlags,
};

/** Build BrokerOptions from the shared flags (also used by `plexus up`). */
export async function brokerOptionsFromArgs(args: ParsedArgs, command: string): Promise<ServerOptions> {
  const listen = list(args, 'listen');
  const http = flag(args, 'no-http') ? undefined : (str(args, 'http') ?? DEFAULT_HTTP);
  if (flag(args, 'no-http') && str(args, 'http') !== undefined) throw new UsageError('--http and --no-http contradict each other', command);
  const dataDir = str(args, 'data-dir');
  if (flag(args, 'no-durable') && dataDir !== undefined) throw new UsageError('--data-dir and --no-durable contradict each other', command);
  if (dataDir === '') throw new UsageError('--data-dir needs a directory', command);
  return {
    listen: listen.length > 0 ? listen : defaultListen(),
    ...(http ? { http } : {}),
    ...(flag(args, 'no-durable') ? {} : { durable: { dir: dataDir ?? defaultDataDir() } }),
  };
}

async function run(args: ParsedArgs): Promise<number> {
  positionals(args, NAME, []);
  const base = await brokerOptionsFromArgs(args, NAME);
  const policy = str(args, 'slow-consumer');
  if (policy !== undefined && !POLICIES.includes(policy as SlowConsumerPolicy)) {
    throw new UsageError(`--slow-consumer must be one of ${POLICIES.join(', ')}, got ${JSON.stringify(policy)}`, NAME);
  }
  const needsTls = base.listen.some((u) => u.startsWith('tls:') || u.startsWith('wss:'));
  const cert = str(args, 'tls-cert');
  const key = str(args, 'tls-key');
  const ca = str(args, 'tls-ca');
  if ((cert === undefined) !== (key === undefined)) throw new UsageError('--tls-cert and --tls-key go together', NAME);
  if (needsTls && cert === undefined) throw new UsageError('tls:// and wss:// listeners need --tls-cert and --tls-key', NAME);
  if (flag(args, 'tls-verify-clients') && ca === undefined) throw new UsageError('--tls-verify-clients needs --tls-ca', NAME);
  const tls =
    cert !== undefined && key !== undefined
      ? {
          cert: readFileOrUsage(cert, 'tls-cert', NAME),
          key: readFileOrUsage(key, 'tls-key', NAME),
          ...(ca !== undefined ? { ca: readFileOrUsage(ca, 'tls-ca', NAME) } : {}),
          ...(flag(args, 'tls-verify-clients') ? { requestCert: true, rejectUnauthorized: true } : {}),
        }
      : undefined;
  const modeText = str(args, 'socket-mode');
  if (modeText !== undefined && !/^0?o?[0-7]{3}$/.test(modeText)) throw new UsageError(`--socket-mode needs an octal mode like 600, got ${JSON.stringify(modeText)}`, NAME);
  const authFile = str(args, 'auth');
  const auth = authFile !== undefined ? await loadAuthConfig(authFile) : undefined;
  const ms = (name: string, fallback: number | undefined): number | undefined => (str(args, name) === undefined ? fallback : int(args, NAME, name, 0, 1, 3_600_000));

  const options: ServerOptions = {
    ...base,
    ...(auth ? { auth } : {}),
    ...(tls ? { tls } : {}),
    ...(policy ? { slowConsumer: policy as SlowConsumerPolicy } : {}),
    ...opt('maxPayloadBytes', size(args, NAME, 'max-payload', undefined)),
    ...opt('maxPendingBytes', size(args, NAME, 'max-pending', undefined)),
    ...opt('writeDeadlineMs', ms('write-deadline', undefined)),
    ...opt('maxConnections', str(args, 'max-connections') === undefined ? undefined : int(args, NAME, 'max-connections', 0, 1, 1_000_000)),
    ...opt('maxSubscriptionsPerConnection', str(args, 'max-subscriptions') === undefined ? undefined : int(args, NAME, 'max-subscriptions', 0, 1, 10_000_000)),
    ...opt('authTimeoutMs', ms('auth-timeout', undefined)),
    ...opt('heartbeatMs', ms('heartbeat', undefined)),
    ...opt('socketMode', modeText === undefined ? undefined : parseInt(modeText.replace(/^0?o?/, ''), 8)),
    ...opt('serverId', str(args, 'server-id')),
  };
  if ((options.maxPayloadBytes ?? 0) > 64 * 1024 * 1024) throw new UsageError('--max-payload can be at most 64MiB', NAME);

  const broker = await startBrokerFromFlags(options);
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  log(`plexus broker ${broker.serverId} on ${hostname()} (pid ${process.pid}) listening on:`);
  for (const line of describeBroker(broker)) log(line);
  log(auth ? `auth: ${auth.users.length} user(s) from ${authFile}${auth.anonymous ? '; anonymous connections allowed' : ''}` : 'auth: none — every connection is "anonymous" with every permission');
  if (!auth) {
    for (const u of broker.urls) {
      if (/^(tcp|tls|ws|wss):\/\//.test(u) && !/\/\/(127\.|\[::1\]|localhost)/.test(u)) log(`warning: ${u} is reachable from other hosts and there is no --auth`);
    }
  }
  log('Ctrl-C (SIGINT) or SIGTERM stops it.');

  await new Promise<void>((resolve) => {
    onStopSignal((signal) => {
      log(`${signal}: closing (telling clients GOODBYE, draining up to 2 s; send it again to force) …`);
      onStopSignal(() => process.exit(130));
      resolve();
    });
  });
  await broker.close({ drainMs: 2000 });
  log('broker stopped');
  return 0;
}

function opt<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

export const brokerCommand: Command = {
  name: NAME,
  summary: 'run a broker (the daemon) until SIGINT/SIGTERM',
  usage: ['broker [--listen URL]... [--http URL | --no-http] [--auth FILE] [--tls-cert FILE --tls-key FILE [--tls-ca FILE --tls-verify-clients]] [limits]'],
  description: 'Starts a broker in the foreground and logs where it listens to stderr. SIGINT or SIGTERM closes it gracefully: clients get GOODBYE, queued output drains for up to 2 s.',
  examples: [
    "plexus broker --listen tcp://0.0.0.0:4850 --auth auth.json",
    'plexus broker --listen tls://0.0.0.0:4853 --tls-cert server.pem --tls-key server.key --tls-ca ca.pem --tls-verify-clients',
    'plexus broker --listen unix:///tmp/plexus.sock --no-http --slow-consumer drop',
  ],
  options,
  client: false,
  run,
};
