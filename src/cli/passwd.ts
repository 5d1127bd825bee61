/** `plexus passwd` — read a password, print a scrypt hash for the auth config. */
import { ErrorCode, PlexusError, hashPassword } from '../index.js';
import { positionals, type OptionSpecs, type ParsedArgs } from './args.js';
import type { Command } from './command.js';

const NAME = 'passwd';

const options: OptionSpecs = {};

/** Prompt on stderr and read one line from a terminal without echoing it. */
function readHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (err?: Error): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: Buffer): void => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish();
        if (ch === '\u0003') return finish(new PlexusError(ErrorCode.CANCELLED, 'cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}

/** The first line of piped stdin. */
async function readFirstLine(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    text += chunk.toString('utf8');
    if (text.includes('\n') || text.length > 64 * 1024) break;
  }
  return text.split(/\r?\n/)[0] ?? '';
}

async function run(args: ParsedArgs): Promise<number> {
  positionals(args, NAME, []);
  let password: string;
  if (process.stdin.isTTY) {
    password = await readHidden('password: ');
    const again = await readHidden('again: ');
    if (again !== password) throw new PlexusError(ErrorCode.INVALID_ARGUMENT, 'the passwords do not match');
  } else password = await readFirstLine();
  if (password === '') throw new PlexusError(ErrorCode.INVALID_ARGUMENT, 'the password is empty');
  process.stdout.write(`${hashPassword(password)}\n`);
  return 0;
}

export const passwdCommand: Command = {
  name: NAME,
  summary: 'hash a password for the broker auth config',
  usage: ['passwd'],
  description:
    'Reads a password (twice, without echo, from a terminal; else the first line of stdin) and prints a `scrypt:` hash. Put it in the auth config as a user\'s "passwordHash" and start the broker with --auth.',
  examples: ['plexus passwd', 'printf "%s\\n" "$PW" | plexus passwd'],
  options,
  client: false,
  run,
};
