/** `plexus req SUBJECT [DATA]` — send a request, print the reply. */
import { flag, int, pairs, positionals, type OptionSpecs, type ParsedArgs } from './args.js';
import { connectFromArgs, onStopSignal } from './client.js';
import type { Command } from './command.js';
import { writeAll } from './output.js';
import { readStdin } from './stdin.js';

const NAME = 'req';

const options: OptionSpecs = {
  timeout: { type: 'string', arg: 'MS', help: 'give up after MS milliseconds (default 10000)' },
  header: { type: 'string', multiple: true, arg: 'K=V', help: 'add a request header' },
};

async function run(args: ParsedArgs): Promise<number> {
  const [subject, dataArg] = positionals(args, NAME, ['SUBJECT'], ['DATA']);
  const timeout = int(args, NAME, 'timeout', 10_000, 1, 3_600_000);
  const headers = pairs(args, NAME, 'header');
  const bus = await connectFromArgs(args, NAME, { reconnect: false });
  // Ctrl-C cancels the request; the cancellation reaches the responder too.
  const ac = new AbortController();
  const stopSignals = onStopSignal(() => ac.abort());
  try {
    const fromStdin = dataArg === '-' || (dataArg === undefined && !process.stdin.isTTY);
    const data = fromStdin ? await readStdin(bus.server?.maxPayload ?? 1024 * 1024) : (dataArg ?? '');
    const reply = await bus.request(subject!, data, { timeout, signal: ac.signal, ...(headers ? { headers } : {}) });
    await writeAll(process.stdout, reply.data);
    if (process.stdout.isTTY && reply.data[reply.data.length - 1] !== 0x0a) await writeAll(process.stdout, '\n');
    if (flag(args, 'debug')) process.stderr.write(`reply from ${reply.from}\n`);
  } finally {
    stopSignals();
    await bus.close();
  }
  return 0;
}

export const reqCommand: Command = {
  name: NAME,
  summary: 'send a request and print the reply',
  usage: ['req SUBJECT [DATA] [--timeout MS] [--header K=V]...'],
  description:
    'Prints the reply payload as is. On failure it prints the error with its code and exits 1, e.g. PLEXUS_ERR_NO_RESPONDERS when nobody serves SUBJECT, PLEXUS_ERR_TIMEOUT, or the code the responder sent. Without DATA (or with "-") the request payload is read from piped stdin.',
  examples: ["plexus req calc.add '[1,2]'", 'plexus req time.now --timeout 500'],
  options,
  client: true,
  run,
};
