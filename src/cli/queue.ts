/** `plexus queue ls|stat|send|consume` — durable work queues from the shell. */
import type { Connection } from '../client/index.js';
import { listQueues, queue, type QueueConsumer, type QueueMessage, type QueueStat, type SendOptions } from '../patterns/index.js';
import { flag, int, pairs, positionals, str, UsageError, type OptionSpecs, type ParsedArgs } from './args.js';
import { connectFromArgs, onStopSignal } from './client.js';
import type { Command } from './command.js';
import { colourful, describePayload, paint, writeAll } from './output.js';
import { readStdin } from './stdin.js';

const NAME = 'queue';
const VERBS = ['ls', 'stat', 'send', 'consume'] as const;
type Verb = (typeof VERBS)[number];

/** Flags of sending verbs (queue send, mailbox send). */
export const sendOptions: OptionSpecs = {
  'msg-id': { type: 'string', arg: 'ID', help: 'send: dedup id; a repeat within the dedup window stores nothing' },
  delay: { type: 'string', arg: 'MS', help: 'send: deliver no earlier than MS milliseconds from now' },
  ttl: { type: 'string', arg: 'MS', help: 'send: never deliver after MS milliseconds (expired messages are dropped)' },
  header: { type: 'string', multiple: true, arg: 'K=V', help: 'send: add a header' },
};

/** Flags of receiving verbs (queue consume, mailbox read). */
export const receiveOptions: OptionSpecs = {
  count: { type: 'string', arg: 'N', help: 'exit after N messages' },
  idle: { type: 'string', arg: 'MS', help: 'exit once no message arrived for MS milliseconds' },
  prefetch: { type: 'string', arg: 'N', help: 'messages held unacknowledged at a time (default 1)' },
  'no-ack': { type: 'boolean', help: 'give each message back (nack) instead of acknowledging it: a peek' },
  raw: { type: 'boolean', help: 'print only the payloads, one per line' },
  json: { type: 'boolean', help: 'print one JSON object per message (and per queue for ls/stat)' },
};

const options: OptionSpecs = { ...sendOptions, ...receiveOptions };

/** The send options from the flags, and the payload from the argument or stdin. */
export async function sendArgs(args: ParsedArgs, command: string, dataArg: string | undefined): Promise<{ data: string | Buffer; options: SendOptions }> {
  const fromStdin = dataArg === '-' || (dataArg === undefined && !process.stdin.isTTY);
  if (!fromStdin && dataArg === undefined) throw new UsageError('send needs DATA (or piped stdin)', command);
  const data = fromStdin ? await readStdin(16 * 1024 * 1024) : dataArg!;
  const headers = pairs(args, command, 'header');
  const msgId = str(args, 'msg-id');
  const o: SendOptions = {
    ...(msgId !== undefined ? { msgId } : {}),
    ...(str(args, 'delay') !== undefined ? { delayMs: int(args, command, 'delay', 0, 0) } : {}),
    ...(str(args, 'ttl') !== undefined ? { ttlMs: int(args, command, 'ttl', 0, 1) } : {}),
    ...(headers ? { headers } : {}),
  };
  return { data, options: o };
}

function messageJson(m: QueueMessage): string {
  return JSON.stringify({ seq: m.seq, from: m.from, deliveryCount: m.deliveryCount, timestamp: m.timestamp, headers: m.headers, data: m.string() });
}

function messageText(m: QueueMessage, colour: boolean): string {
  const head = `${paint(colour, 'gray', `[#${m.seq}]`)} ${paint(colour, 'gray', 'from')} ${paint(colour, 'magenta', m.from || '?')}${m.deliveryCount > 1 ? paint(colour, 'yellow', ` (delivery ${m.deliveryCount})`) : ''}`;
  const hdrs = Object.entries(m.headers).map(([k, v]) => `\n    ${paint(colour, 'gray', `${k}:`)} ${v}`).join('');
  return `${head}${hdrs}\n    ${describePayload(m.data)}\n`;
}

/**
 * Print messages from `open(signal)` and settle each once printed, until --count, --idle
 * or Ctrl-C. Exit 1 when --count was not reached.
 */
export async function receive(args: ParsedArgs, command: string, label: string, open: (signal: AbortSignal, prefetch: number) => QueueConsumer): Promise<number> {
  const count = str(args, 'count') === undefined ? undefined : int(args, command, 'count', 0, 1);
  const idle = str(args, 'idle') === undefined ? undefined : int(args, command, 'idle', 0, 1);
  const prefetch = int(args, command, 'prefetch', 1, 1, 10_000);
  if (flag(args, 'raw') && flag(args, 'json')) throw new UsageError('--raw and --json are alternatives', command);
  const ac = new AbortController();
  const stop = onStopSignal(() => ac.abort());
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  const armIdle = (): void => {
    if (idle === undefined) return;
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => ac.abort(), idle);
  };
  const colour = colourful(process.stdout);
  let n = 0;
  try {
    process.stderr.write(`reading ${label}${count !== undefined ? `; exiting after ${count}` : ''}${idle !== undefined ? `; or after ${idle} ms idle` : ''}\n`);
    armIdle();
    const messages = open(ac.signal, prefetch);
    for await (const m of messages) {
      clearTimeout(idleTimer);
      n++;
      if (flag(args, 'raw')) await writeAll(process.stdout, `${m.string()}\n`);
      else if (flag(args, 'json')) await writeAll(process.stdout, `${messageJson(m)}\n`);
      else await writeAll(process.stdout, messageText(m, colour));
      const last = count !== undefined && n >= count;
      // The last one: stop the session first, so settling it does not fetch another.
      if (last) await messages.close();
      // Settled only once printed: a crash before this redelivers it.
      await (flag(args, 'no-ack') ? m.nack() : m.ack());
      if (last) break;
      armIdle();
    }
  } finally {
    clearTimeout(idleTimer);
    stop();
  }
  if (count !== undefined && n < count) {
    process.stderr.write(`stopped after ${n} of ${count} messages\n`);
    return 1;
  }
  return 0;
}

/** A queue's (or mailbox's) numbers, one line. */
export function statLine(s: QueueStat): string {
  return `${s.name}: ${s.stored} stored, ${s.ready} ready, ${s.unacked} unacked, ${s.scheduled} scheduled, ${s.deadLetters} dead-lettered, ${s.bytes} bytes\n`;
}

async function runVerb(verb: Verb, bus: Connection, rest: string[], args: ParsedArgs): Promise<number> {
  switch (verb) {
    case 'ls': {
      for (const name of await listQueues(bus)) {
        const s = await queue(bus, name).stat();
        await writeAll(process.stdout, flag(args, 'json') ? `${JSON.stringify(s)}\n` : statLine(s));
      }
      return 0;
    }
    case 'stat': {
      const s = await queue(bus, rest[0]!).stat();
      await writeAll(process.stdout, flag(args, 'json') ? `${JSON.stringify(s)}\n` : statLine(s));
      return 0;
    }
    case 'send': {
      const { data, options: o } = await sendArgs(args, NAME, rest[1]);
      const r = await queue(bus, rest[0]!).send(data, o);
      process.stderr.write(r.duplicate ? `${rest[0]}: duplicate of #${r.seq}, nothing stored\n` : `${rest[0]}: stored as #${r.seq}\n`);
      return 0;
    }
    case 'consume':
      return receive(args, NAME, `queue ${rest[0]}`, (signal, prefetch) => queue(bus, rest[0]!).consume({ ack: 'manual', prefetch, signal }));
  }
}

async function run(args: ParsedArgs): Promise<number> {
  const [verb, ...tail] = args.positionals;
  if (verb === undefined || !(VERBS as readonly string[]).includes(verb)) {
    throw new UsageError(`queue needs a verb: ${VERBS.join(', ')}${verb ? ` (got ${JSON.stringify(verb)})` : ''}`, NAME);
  }
  const v = verb as Verb;
  const sub = { ...args, positionals: tail };
  const rest = v === 'ls' ? positionals(sub, NAME, []) : v === 'send' ? positionals(sub, NAME, ['QUEUE'], ['DATA']) : positionals(sub, NAME, ['QUEUE']);
  const bus = await connectFromArgs(args, NAME, v === 'consume' ? {} : { reconnect: false });
  try {
    return await runVerb(v, bus, rest, args);
  } finally {
    await bus.close();
  }
}

export const queueCommand: Command = {
  name: NAME,
  summary: 'send to and consume durable work queues (needs a durable service)',
  usage: [
    'queue ls [--json]',
    'queue stat QUEUE [--json]',
    'queue send QUEUE [DATA] [--msg-id ID] [--delay MS] [--ttl MS] [--header K=V]...',
    'queue consume QUEUE [--count N] [--idle MS] [--prefetch N] [--no-ack] [--raw | --json]',
  ],
  description:
    'A queue is created on first use. `send` reads DATA from stdin when it is missing (or "-") and stdin is not a terminal, and returns once the message is stored durably. `consume` competes with every other consumer of the queue: each message is printed by one of them and acknowledged after it is printed (with --no-ack it is given back instead); Ctrl-C stops it. Errors are coded (e.g. PLEXUS_ERR_NO_RESPONDERS when no durable service runs) and exit 1.',
  examples: [
    "plexus queue send hello 'Hello World!'",
    'plexus queue consume hello --count 1',
    'echo report | plexus queue send reports --msg-id r-2024-06 --ttl 3600000',
    'plexus queue stat hello',
  ],
  options,
  client: true,
  run,
};
