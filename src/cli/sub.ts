/** `plexus sub SUBJECT` — print messages as they arrive. */
import type { Message } from '../index.js';
import { flag, int, pairs, positionals, str, UsageError, type OptionSpecs, type ParsedArgs } from './args.js';
import { connectFromArgs, onStopSignal } from './client.js';
import type { Command } from './command.js';
import { colourful, describePayload, paint, writeAll } from './output.js';

const NAME = 'sub';

const options: OptionSpecs = {
  queue: { type: 'string', arg: 'GROUP', help: 'join a queue group: each message goes to one member' },
  filter: { type: 'string', multiple: true, arg: 'K=V', help: "only messages whose header K is V (V '*' = any value); applied by the broker" },
  count: { type: 'string', arg: 'N', help: 'exit after N messages' },
  raw: { type: 'boolean', help: 'print only the payloads, one per line' },
  json: { type: 'boolean', help: 'print one JSON object per message: subject, from, reply, headers, data' },
};

/** One message the way `plexus sub` prints it. */
export function formatMessage(n: number, msg: Message, colour: boolean): string {
  const headers = Object.entries(msg.headers);
  const head = `${paint(colour, 'gray', `[#${n}]`)} ${paint(colour, 'cyan', msg.subject)} ${paint(colour, 'gray', 'from')} ${paint(colour, 'magenta', msg.from || '?')}`;
  const reply = msg.reply ? ` ${paint(colour, 'gray', `reply→${msg.reply}`)}` : '';
  const hdrs = headers.map(([k, v]) => `\n    ${paint(colour, 'gray', `${k}:`)} ${v}`).join('');
  return `${head}${reply}${hdrs}\n    ${describePayload(msg.data)}\n`;
}

async function run(args: ParsedArgs): Promise<number> {
  const [subject] = positionals(args, NAME, ['SUBJECT']);
  const count = str(args, 'count') === undefined ? undefined : int(args, NAME, 'count', 0, 1);
  if (flag(args, 'raw') && flag(args, 'json')) throw new UsageError('--raw and --json are alternatives', NAME);
  const queue = str(args, 'queue');
  const filter = pairs(args, NAME, 'filter');
  const bus = await connectFromArgs(args, NAME);
  const sub = bus.subscribe(subject!, {
    ...(queue ? { queue } : {}),
    ...(count !== undefined ? { max: count } : {}),
    ...(filter ? { headers: filter } : {}),
  });
  const stopSignals = onStopSignal(() => sub.unsubscribe());
  const colour = colourful(process.stdout);
  let n = 0;
  try {
    // Once the broker has our SUB, nothing published from now on is missed: say so.
    await bus.flush();
    process.stderr.write(`listening on ${subject}${queue ? ` (queue group ${queue})` : ''} via ${bus.url} as ${bus.server?.identity ?? '?'}${count !== undefined ? `; exiting after ${count}` : ''}\n`);
    for await (const msg of sub) {
      n++;
      if (flag(args, 'raw')) {
        await writeAll(process.stdout, msg.data);
        await writeAll(process.stdout, '\n');
      } else if (flag(args, 'json')) {
        const line = { subject: msg.subject, from: msg.from, reply: msg.reply || undefined, headers: msg.headers, data: msg.string() };
        await writeAll(process.stdout, `${JSON.stringify(line)}\n`);
      } else await writeAll(process.stdout, formatMessage(n, msg, colour));
    }
  } finally {
    stopSignals();
    await bus.close();
  }
  if (count !== undefined && n < count) {
    process.stderr.write(`stopped after ${n} of ${count} messages\n`);
    return 1;
  }
  return 0;
}

export const subCommand: Command = {
  name: NAME,
  summary: 'print messages on a subject (wildcards: * one token, > the rest)',
  usage: ['sub SUBJECT [--queue GROUP] [--filter K=V]... [--count N] [--raw | --json]'],
  description:
    'Prints each message with its subject and the sender identity the broker stamped on it (`from`), then the payload. A line on stderr says when the subscription is live. Ctrl-C stops it; with --count it exits 0 after N messages (1 if interrupted before).',
  examples: ["plexus sub '>'", "plexus sub 'sensors.*.temp' --count 10", 'plexus sub jobs --queue workers --raw', "plexus sub 'orders.>' --filter region=eu"],
  options,
  client: true,
  run,
};
