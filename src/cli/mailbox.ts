/** `plexus mailbox send|read` — durable messages to a named recipient from the shell. */
import type { Connection } from '../client/index.js';
import { mailbox } from '../patterns/index.js';
import { flag, positionals, UsageError, type OptionSpecs, type ParsedArgs } from './args.js';
import { connectFromArgs } from './client.js';
import type { Command } from './command.js';
import { writeAll } from './output.js';
import { receive, receiveOptions, sendArgs, sendOptions, statLine } from './queue.js';

const NAME = 'mailbox';
const VERBS = ['send', 'read', 'stat'] as const;
type Verb = (typeof VERBS)[number];

const options: OptionSpecs = { ...sendOptions, ...receiveOptions };

/** The mailbox to read: the one named, else the caller's own identity. */
function ownMailbox(bus: Connection, named: string | undefined): string {
  const owner = named ?? bus.server?.identity;
  if (!owner) throw new UsageError('say whose mailbox to read (OWNER)', NAME);
  return owner;
}

async function runVerb(verb: Verb, bus: Connection, rest: string[], args: ParsedArgs): Promise<number> {
  switch (verb) {
    case 'send': {
      const { data, options: o } = await sendArgs(args, NAME, rest[1]);
      const r = await mailbox(bus, rest[0]!).send(data, o);
      process.stderr.write(
        r.duplicate ? `mailbox ${rest[0]}: duplicate of #${r.seq}, nothing stored\n` : `mailbox ${rest[0]}: stored as #${r.seq} from ${bus.server?.identity ?? '?'}\n`,
      );
      return 0;
    }
    case 'read': {
      const owner = ownMailbox(bus, rest[0]);
      return receive(args, NAME, `mailbox ${owner}`, (signal, prefetch) => mailbox(bus, owner).read({ ack: 'manual', prefetch, signal }));
    }
    case 'stat': {
      const s = await mailbox(bus, ownMailbox(bus, rest[0])).stat();
      await writeAll(process.stdout, flag(args, 'json') ? `${JSON.stringify(s)}\n` : statLine(s));
      return 0;
    }
  }
}

async function run(args: ParsedArgs): Promise<number> {
  const [verb, ...tail] = args.positionals;
  if (verb === undefined || !(VERBS as readonly string[]).includes(verb)) {
    throw new UsageError(`mailbox needs a verb: ${VERBS.join(', ')}${verb ? ` (got ${JSON.stringify(verb)})` : ''}`, NAME);
  }
  const v = verb as Verb;
  const sub = { ...args, positionals: tail };
  const rest = v === 'send' ? positionals(sub, NAME, ['OWNER'], ['DATA']) : positionals(sub, NAME, [], ['OWNER']);
  const bus = await connectFromArgs(args, NAME, v === 'read' ? {} : { reconnect: false });
  try {
    return await runVerb(v, bus, rest, args);
  } finally {
    await bus.close();
  }
}

export const mailboxCommand: Command = {
  name: NAME,
  summary: 'leave and read durable messages for a named recipient (needs a durable service)',
  usage: [
    'mailbox send OWNER [DATA] [--msg-id ID] [--delay MS] [--ttl MS] [--header K=V]...',
    'mailbox read [OWNER] [--count N] [--idle MS] [--prefetch N] [--no-ack] [--raw | --json]',
    'mailbox stat [OWNER] [--json]',
  ],
  description:
    'A mailbox holds messages for its owner until they are read, across restarts of everyone involved. Each message shows who sent it: the identity the broker authenticated, which a sender cannot forge. `read` without OWNER reads your own mailbox (your identity); on a broker with auth only the owner may read or stat a mailbox (PLEXUS_ERR_PERMISSION_DENIED otherwise). Messages are acknowledged once printed.',
  examples: ["plexus mailbox send alice 'lunch at noon?' --user bob --pass …", 'plexus mailbox read --user alice --pass … --idle 1000'],
  options,
  client: true,
  run,
};
