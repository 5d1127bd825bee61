/** `plexus pub SUBJECT [DATA]` — publish one message or many. */
import { int, pairs, positionals, type OptionSpecs, type ParsedArgs } from './args.js';
import { connectFromArgs } from './client.js';
import type { Command } from './command.js';
import { readStdin } from './stdin.js';

const NAME = 'pub';

const options: OptionSpecs = {
  header: { type: 'string', multiple: true, arg: 'K=V', help: 'add a message header' },
  count: { type: 'string', arg: 'N', help: 'publish N messages (default 1); {{n}} in DATA becomes 1..N' },
  reply: { type: 'string', arg: 'SUBJECT', help: 'reply subject to send along' },
};

async function run(args: ParsedArgs): Promise<number> {
  const [subject, dataArg] = positionals(args, NAME, ['SUBJECT'], ['DATA']);
  const count = int(args, NAME, 'count', 1, 1);
  const headers = pairs(args, NAME, 'header');
  const reply = args.values['reply'] as string | undefined;
  const bus = await connectFromArgs(args, NAME, { reconnect: false });
  try {
    const limit = bus.server?.maxPayload ?? 1024 * 1024;
    // No DATA (or "-") with piped input: the payload is stdin.
    const fromStdin = dataArg === '-' || (dataArg === undefined && !process.stdin.isTTY);
    const data: string | Buffer = fromStdin ? await readStdin(limit) : (dataArg ?? '');
    const templated = typeof data === 'string' && data.includes('{{n}}');
    const opts = { ...(headers ? { headers } : {}), ...(reply ? { reply } : {}) };
    for (let n = 1; n <= count; n++) {
      if (!bus.isWritable) await bus.writable();
      bus.publish(subject!, templated ? data.replaceAll('{{n}}', String(n)) : data, opts);
    }
    await bus.flush();
    process.stderr.write(`published ${count} message${count === 1 ? '' : 's'} to ${subject}\n`);
  } finally {
    await bus.close();
  }
  return 0;
}

export const pubCommand: Command = {
  name: NAME,
  summary: 'publish a message',
  usage: ['pub SUBJECT [DATA] [--header K=V]... [--count N]'],
  description: 'DATA is sent as UTF-8. Without DATA (or with "-") the payload is read from stdin when stdin is not a terminal. Returns once the broker has received everything.',
  examples: ['plexus pub demo.hello hi', "plexus pub sensors.kitchen.temp '{\"celsius\":21.5}' --header unit=C", "plexus pub jobs.resize 'job {{n}}' --count 100", 'cat photo.jpg | plexus pub share.image'],
  options,
  client: true,
  run,
};
