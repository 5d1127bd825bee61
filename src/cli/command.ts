/** The shape every `plexus` sub-command has, and the flags they share. */
import type { OptionSpecs, ParsedArgs } from './args.js';

/** One sub-command: its help text, its flags and what it does. */
export interface Command {
  readonly name: string;
  /** One line for the top-level command list. */
  readonly summary: string;
  /** Usage line(s) after `plexus `. */
  readonly usage: readonly string[];
  /** Paragraphs shown under the usage. */
  readonly description?: string;
  readonly examples?: readonly string[];
  readonly options: OptionSpecs;
  /** Takes the connection flags (--url, --token, --user, --pass, --tls-*). */
  readonly client: boolean;
  /** Returns the exit code. */
  run(args: ParsedArgs): Promise<number>;
}

/** Flags every command takes. */
export const COMMON_OPTIONS: OptionSpecs = {
  help: { type: 'boolean', short: 'h', help: 'show this help' },
  debug: { type: 'boolean', help: 'print stack traces on errors' },
};

/** Flags of commands that connect to a broker. */
export const CLIENT_OPTIONS: OptionSpecs = {
  url: { type: 'string', arg: 'URL', help: 'broker address(es), comma-separated (default: $PLEXUS_URL, else the per-user socket)' },
  token: { type: 'string', arg: 'TOKEN', help: 'bearer token (default: $PLEXUS_TOKEN)' },
  user: { type: 'string', arg: 'NAME', help: 'user name (default: $PLEXUS_USER)' },
  pass: { type: 'string', arg: 'PASSWORD', help: 'password (default: $PLEXUS_PASS)' },
  'tls-ca': { type: 'string', arg: 'FILE', help: 'CA certificate(s) to trust for tls:// and wss://' },
  'tls-cert': { type: 'string', arg: 'FILE', help: 'client certificate for mutual TLS' },
  'tls-key': { type: 'string', arg: 'FILE', help: 'client key for mutual TLS' },
};
