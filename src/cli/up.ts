/**
 * `plexus up` — the newcomer's command: start the broker on the defaults (per-user
 * socket, tcp://127.0.0.1:4850, monitor on :4851), run a short demo of three processes
 * talking through it, then keep the broker running until Ctrl-C.
 */
import { randomBytes } from 'node:crypto';
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join, relative } from 'node:path';
import { defaultUrl, type AuthConfig, type Broker } from '../index.js';
import { flag, positionals, seconds, UsageError, type OptionSpecs, type ParsedArgs } from './args.js';
import { brokerOptionsFromArgs, durableFlags } from './broker.js';
import { onStopSignal } from './client.js';
import type { Command } from './command.js';
import { DemoSupervisor, type DemoRole } from './demo/supervisor.js';
import { colourful, paint } from './output.js';
import { DEFAULT_HTTP, describeBroker, startBrokerFromFlags } from './serve-broker.js';

const NAME = 'up';
const DEMO_SECONDS = 6;
const DEMO_USERS = ['sensor', 'dashboard', 'calculator'] as const;

const options: OptionSpecs = {
  listen: { type: 'string', multiple: true, arg: 'URL', help: 'address to listen on (default: the per-user socket and tcp://127.0.0.1:4850)' },
  http: { type: 'string', arg: 'URL', help: `monitor address (default: ${DEFAULT_HTTP})` },
  'no-http': { type: 'boolean', help: 'no monitor endpoint' },
  'no-demo': { type: 'boolean', help: 'just run the broker' },
  'demo-seconds': { type: 'string', arg: 'N', help: `how long the demo runs before the broker carries on alone (default ${DEMO_SECONDS})` },
  'demo-only-seconds': { type: 'string', arg: 'N', help: 'run the demo N seconds, then stop everything and exit 0 (for tests and CI)' },
  ...durableFlags,
};

/** How to invoke this CLI from the user's shell: `plexus` if it is on PATH, else `node <path>`. */
function selfCommand(): string {
  const exts = process.platform === 'win32' ? ['.cmd', '.exe', ''] : [''];
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    for (const ext of exts) {
      try {
        accessSync(join(dir, `plexus${ext}`), constants.X_OK);
        return 'plexus';
      } catch {
        // keep looking
      }
    }
  }
  // In a checkout of this package (e.g. after `npm start`), npx finds the package's own bin.
  try {
    const pkg = JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')) as { name?: string };
    if (pkg.name === 'plexus') return 'npx plexus';
  } catch {
    // not in the package root
  }
  const script = process.argv[1] ?? 'dist/src/cli/main.js';
  const rel = relative(process.cwd(), script);
  return `node ${rel.startsWith('..') ? script : rel}`;
}

function pickUrl(urls: readonly string[], scheme: string): string {
  return urls.find((u) => u.startsWith(`${scheme}://`)) ?? urls[0]!;
}

/** Start the demo processes in an order where nothing is missed, then let them talk. */
async function runDemo(broker: Broker, demo: DemoSupervisor, tokens: Record<string, string>, secondsToRun: number, signal: AbortSignal): Promise<void> {
  const unix = pickUrl(broker.urls, 'unix');
  const tcp = pickUrl(broker.urls, 'tcp');
  const role = (name: (typeof DEMO_USERS)[number], url: string, colour: DemoRole['colour']): DemoRole => ({ name, url, token: tokens[name]!, colour });
  demo.line('broker', 'blue', 'starting the demo: a calculator, a dashboard and a sensor, each its own process');
  // Listeners first, so the sensor's first reading and the first request find them.
  await Promise.all([demo.start(role('calculator', unix, 'green')), demo.start(role('dashboard', tcp, 'cyan'))]);
  if (signal.aborted) return;
  await demo.start(role('sensor', unix, 'yellow'));
  const clients = broker.status().clients.map((c) => `"${c.identity}" over ${c.transport}`);
  demo.line('broker', 'blue', `${clients.length} clients connected: ${clients.join(', ')} — every message is stamped with its sender's identity`);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, secondsToRun * 1000);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

async function run(args: ParsedArgs): Promise<number> {
  positionals(args, NAME, []);
  const demoOnly = seconds(args, NAME, 'demo-only-seconds');
  const demoSeconds = seconds(args, NAME, 'demo-seconds') ?? DEMO_SECONDS;
  const noDemo = flag(args, 'no-demo');
  if (noDemo && demoOnly !== undefined) throw new UsageError('--no-demo and --demo-only-seconds contradict each other', NAME);
  const base = await brokerOptionsFromArgs(args, NAME);

  // The demo processes log in with throwaway tokens so the broker stamps their names on
  // what they send; everyone else still gets in as "anonymous" with every permission.
  const tokens = Object.fromEntries(DEMO_USERS.map((u) => [u, randomBytes(18).toString('base64url')]));
  const auth: AuthConfig | undefined = noDemo ? undefined : { users: DEMO_USERS.map((user) => ({ user, token: tokens[user]! })), anonymous: {} };

  const colour = colourful(process.stdout);
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  const broker = await startBrokerFromFlags({ ...base, ...(auth ? { auth } : {}) });
  out(`${paint(colour, 'bold', 'Plexus broker')} ${broker.serverId} is up (pid ${process.pid}), listening on:`);
  for (const line of describeBroker(broker)) out(line);

  const stop = new AbortController();
  const removeSignals = onStopSignal((sig) => {
    out(`\n${sig}: stopping …`);
    // A second Ctrl-C while stopping: give up waiting.
    onStopSignal(() => process.exit(130));
    stop.abort();
  });
  const demo = new DemoSupervisor(colour, out);
  let code = 0;
  try {
    if (!noDemo) {
      out('');
      await runDemo(broker, demo, tokens, demoOnly ?? demoSeconds, stop.signal);
      await demo.stopAll();
      const s = broker.status();
      demo.line('broker', 'blue', `demo over: ${s.counters.msgsIn} messages in, ${s.counters.msgsOut} delivered`);
      if (demo.failures.length > 0) {
        demo.line('broker', 'red', `problems: ${demo.failures.join('; ')}`);
        code = 1;
      }
      if (demoOnly !== undefined) return code;
    }
    if (!stop.signal.aborted) {
      const cli = selfCommand();
      const urlFlag = broker.urls.includes(defaultUrl()) ? '' : ` --url ${pickUrl(broker.urls, 'tcp')}`;
      out('');
      out(`The broker keeps running. Talk to it from another terminal:`);
      out(`  ${cli} sub '>'${urlFlag}              # watch every message`);
      out(`  ${cli} pub demo.hello hi${urlFlag}    # publish one`);
      out(`  ${cli} reply demo.echo${urlFlag}  /  ${cli} req demo.echo hi${urlFlag}`);
      if (broker.httpUrl) out(`  ${broker.httpUrl}/status          # who is connected, counters (also /metrics)`);
      out('Press Ctrl-C to stop it.');
      await new Promise<void>((resolve) => {
        if (stop.signal.aborted) resolve();
        else stop.signal.addEventListener('abort', () => resolve(), { once: true });
      });
    }
    return code;
  } finally {
    removeSignals();
    await demo.stopAll();
    await broker.close({ drainMs: 1000 });
    if (demoOnly === undefined) out('broker stopped');
  }
}

export const upCommand: Command = {
  name: NAME,
  summary: 'start a broker on the defaults and watch a demo of processes talking (start here)',
  usage: ['up [--listen URL]... [--http URL | --no-http] [--no-demo] [--demo-seconds N | --demo-only-seconds N]'],
  description:
    'Starts the embedded broker on the per-user Unix socket (the address clients use when given no URL), on tcp://127.0.0.1:4850 and with the monitor on http://127.0.0.1:4851. Then three demo processes talk through it for a few seconds: a sensor publishes readings over the Unix socket, a dashboard subscribes with a wildcard over TCP and asks a calculator for averages (request/reply). The broker keeps running afterwards; Ctrl-C stops every demo process and closes the broker.',
  examples: ['plexus up', 'plexus up --no-demo', 'plexus up --listen tcp://127.0.0.1:5850 --http http://127.0.0.1:5851'],
  options,
  client: false,
  run,
};
