#!/usr/bin/env node
/**
 * `plexus` — the command line: pick the sub-command, parse its flags, run it, and turn
 * any failure into one readable line (`plexus: <message> (<code>)`).
 */
import { readFileSync } from 'node:fs';
import { PlexusError } from '../index.js';
import { flag, parse, renderOptions, UsageError, type OptionSpecs } from './args.js';
import { benchCommand } from './bench.js';
import { brokerCommand } from './broker.js';
import { CLIENT_OPTIONS, COMMON_OPTIONS, type Command } from './command.js';
import { gatewayCommand } from './gateway.js';
import { flushStdio } from './output.js';
import { passwdCommand } from './passwd.js';
import { pubCommand } from './pub.js';
import { replyCommand } from './reply.js';
import { reqCommand } from './req.js';
import { servicesCommand } from './services.js';
import { kvCommand } from './kv.js';
import { lockCommand } from './lock.js';
import { mailboxCommand } from './mailbox.js';
import { queueCommand } from './queue.js';
import { subCommand } from './sub.js';
import { upCommand } from './up.js';

const COMMANDS: readonly Command[] = [upCommand, brokerCommand, pubCommand, subCommand, reqCommand, replyCommand, servicesCommand, kvCommand, lockCommand, queueCommand, mailboxCommand, gatewayCommand, benchCommand, passwdCommand];

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function topHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    'plexus — one messaging system for every way processes talk',
    '',
    'Usage: plexus <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Connection options (pub, sub, req, reply, kv, queue, mailbox, bench):',
    renderOptions(CLIENT_OPTIONS),
    '',
    'Everywhere:',
    renderOptions({ ...COMMON_OPTIONS, version: { type: 'boolean', short: 'v', help: 'print the version' } }),
    '',
    'Start with `plexus up`. `plexus <command> --help` tells more about each command.',
  ].join('\n');
}

function commandHelp(c: Command): string {
  const parts = [`Usage: ${c.usage.map((u) => `plexus ${u}`).join('\n       ')}`, '', c.summary];
  if (c.description) parts.push('', wrap(c.description, 88));
  if (Object.keys(c.options).length > 0) parts.push('', 'Options:', renderOptions(c.options));
  if (c.client) parts.push('', 'Connection:', renderOptions(CLIENT_OPTIONS));
  parts.push('', renderOptions(COMMON_OPTIONS));
  if (c.examples?.length) parts.push('', 'Examples:', ...c.examples.map((e) => `  ${e}`));
  return parts.join('\n');
}

function wrap(text: string, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.join('\n');
}

/** Value-taking flags that may come before the command name. */
const VALUE_FLAGS = new Set(Object.entries(CLIENT_OPTIONS).filter(([, s]) => s.type === 'string').map(([n]) => `--${n}`));

/** Split `argv` into the command name and the rest (global flags may precede the name). */
function splitCommand(argv: readonly string[]): { name: string | undefined; rest: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (!a.startsWith('-')) return { name: a, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
    if (VALUE_FLAGS.has(a)) i++;
  }
  return { name: undefined, rest: [...argv] };
}

async function main(argv: readonly string[]): Promise<number> {
  const { name, rest } = splitCommand(argv);
  if (name === undefined) {
    const top: OptionSpecs = { ...COMMON_OPTIONS, ...CLIENT_OPTIONS, version: { type: 'boolean', short: 'v', help: '' } };
    const args = parse('', rest, top);
    if (flag(args, 'version')) {
      process.stdout.write(`plexus ${version()}\n`);
      return 0;
    }
    process.stdout.write(`${topHelp()}\n`);
    return 0;
  }
  if (name === 'help') {
    const target = COMMANDS.find((c) => c.name === rest.find((r) => !r.startsWith('-')));
    process.stdout.write(`${target ? commandHelp(target) : topHelp()}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)}; commands: ${COMMANDS.map((c) => c.name).join(', ')}`, '');
  const specs = { ...COMMON_OPTIONS, ...(command.client ? CLIENT_OPTIONS : {}), ...command.options };
  // --help wins over any other mistake on the line — but not after `--`, where the
  // words belong to a command plexus runs (`plexus lock x -- cmd --help`).
  const own = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
  if (own.includes('--help') || own.includes('-h')) {
    process.stdout.write(`${commandHelp(command)}\n`);
    return 0;
  }
  return command.run(parse(command.name, rest, specs));
}

function report(err: unknown, debug: boolean): number {
  const e = err as Error & { code?: unknown };
  const code = typeof e?.code === 'string' ? e.code : 'PLEXUS_ERR_INTERNAL';
  process.stderr.write(`plexus: ${e?.message ?? String(err)} (${code})\n`);
  if (err instanceof UsageError) {
    process.stderr.write(`Run \`plexus ${err.command ? `${err.command} ` : ''}--help\` for usage.\n`);
  }
  if (debug) {
    for (let cur: unknown = err; cur; cur = (cur as Error).cause) process.stderr.write(`${(cur as Error).stack ?? String(cur)}\n`);
  } else if (!(err instanceof PlexusError)) process.stderr.write('(run with --debug for the stack trace)\n');
  return err instanceof UsageError ? 2 : 1;
}

const argv = process.argv.slice(2);
const debug = argv.includes('--debug') || process.env['PLEXUS_DEBUG'] === '1';
let exitCode: number;
try {
  exitCode = await main(argv);
} catch (err) {
  exitCode = report(err, debug);
}
await flushStdio();
process.exit(exitCode);
