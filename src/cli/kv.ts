/** `plexus kv get|put|del|watch|keys|history BUCKET …` — KV buckets from the shell. */
import { kv, type KvChange, type KvBucket } from '../patterns/index.js';
import { flag, int, positionals, str, UsageError, type OptionSpecs, type ParsedArgs } from './args.js';
import { connectFromArgs, onStopSignal } from './client.js';
import type { Command } from './command.js';
import { colourful, describePayload, paint, writeAll } from './output.js';
import { readStdin } from './stdin.js';

const NAME = 'kv';
const VERBS = ['get', 'put', 'del', 'purge', 'watch', 'keys', 'history'] as const;
type Verb = (typeof VERBS)[number];

const options: OptionSpecs = {
  revision: { type: 'string', arg: 'N', help: 'get: that revision; put: update only if the key is at N (0: only if absent); del: only if at N' },
  create: { type: 'boolean', help: 'put: only if the key does not exist' },
  ttl: { type: 'string', arg: 'MS', help: 'put: the key expires after MS milliseconds' },
  after: { type: 'string', arg: 'REV', help: 'watch: resume after revision REV (skips the current values)' },
  'no-current': { type: 'boolean', help: 'watch: only changes from now on, not the current values' },
  count: { type: 'string', arg: 'N', help: 'watch: exit after N changes' },
  json: { type: 'boolean', help: 'print JSON (get, watch, history: one object per line)' },
  raw: { type: 'boolean', help: 'get: print only the value; watch: only values, one per line' },
};

function changeJson(c: KvChange): string {
  return JSON.stringify({
    key: c.key,
    op: c.op,
    revision: c.revision,
    value: c.op === 'put' ? c.string() : undefined,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
    expiresAt: c.expiresAt,
  });
}

function changeLine(c: KvChange, colour: boolean): string {
  const op = paint(colour, c.op === 'put' ? 'green' : 'yellow', c.op.toUpperCase().padEnd(6));
  const value = c.op === 'put' ? ` ${describePayload(c.value)}` : '';
  return `${paint(colour, 'gray', `[${c.revision}]`)} ${op} ${paint(colour, 'cyan', c.key)}${value}\n`;
}

async function value(dataArg: string | undefined, limit: number): Promise<string | Buffer> {
  const fromStdin = dataArg === '-' || (dataArg === undefined && !process.stdin.isTTY);
  if (fromStdin) return readStdin(limit);
  if (dataArg === undefined) throw new UsageError('put needs a VALUE (or piped stdin)', NAME);
  return dataArg;
}

async function runVerb(verb: Verb, bucket: KvBucket, rest: string[], args: ParsedArgs): Promise<number> {
  const revision = str(args, 'revision') === undefined ? undefined : int(args, NAME, 'revision', 0, 0);
  const out = process.stdout;
  switch (verb) {
    case 'get': {
      const e = await bucket.get(rest[0]!, revision ? { revision } : {});
      if (!e) {
        process.stderr.write(`${bucket.name}/${rest[0]}: no such key\n`);
        return 1;
      }
      if (flag(args, 'json')) await writeAll(out, `${changeJson({ ...e, op: 'put' })}\n`);
      else if (flag(args, 'raw')) await writeAll(out, e.value);
      else {
        await writeAll(out, e.value);
        if (out.isTTY) await writeAll(out, '\n');
        process.stderr.write(`revision ${e.revision}, updated ${new Date(e.updatedAt).toISOString()}${e.expiresAt ? `, expires ${new Date(e.expiresAt).toISOString()}` : ''}\n`);
      }
      return 0;
    }
    case 'put': {
      if (flag(args, 'create') && revision !== undefined) throw new UsageError('--create and --revision are alternatives', NAME);
      const ttl = str(args, 'ttl') === undefined ? undefined : int(args, NAME, 'ttl', 0, 0);
      const data = await value(rest[1], 512 * 1024);
      const o = ttl !== undefined ? { ttlMs: ttl } : {};
      const key = rest[0]!;
      const rev = flag(args, 'create')
        ? await bucket.create(key, data, o)
        : revision !== undefined
          ? await bucket.update(key, data, revision, o)
          : await bucket.put(key, data, o);
      process.stderr.write(`${bucket.name}/${key} is at revision ${rev}\n`);
      return 0;
    }
    case 'del': {
      const r = await bucket.delete(rest[0]!, revision !== undefined ? { revision } : {});
      process.stderr.write(r.deleted ? `${bucket.name}/${rest[0]} deleted at revision ${r.revision}\n` : `${bucket.name}/${rest[0]}: no such key\n`);
      return 0;
    }
    case 'purge': {
      const r = await bucket.purge(rest[0]!);
      process.stderr.write(r.purged ? `${bucket.name}/${rest[0]} purged (history dropped) at revision ${r.revision}\n` : `${bucket.name}/${rest[0]}: no such key\n`);
      return 0;
    }
    case 'keys':
      for (const k of await bucket.keys(rest[0])) await writeAll(out, `${k}\n`);
      return 0;
    case 'history': {
      const colour = colourful(out);
      for (const c of await bucket.history(rest[0]!)) await writeAll(out, flag(args, 'json') ? `${changeJson(c)}\n` : changeLine(c, colour));
      return 0;
    }
    case 'watch':
      return watch(bucket, rest[0], args);
  }
}

async function watch(bucket: KvBucket, filter: string | undefined, args: ParsedArgs): Promise<number> {
  const count = str(args, 'count') === undefined ? undefined : int(args, NAME, 'count', 0, 1);
  const after = str(args, 'after') === undefined ? undefined : int(args, NAME, 'after', 0, 0);
  const ac = new AbortController();
  const stop = onStopSignal(() => ac.abort());
  const colour = colourful(process.stdout);
  let n = 0;
  try {
    process.stderr.write(`watching ${bucket.name}/${filter ?? '>'}\n`);
    const iter = bucket.watch(filter, { signal: ac.signal, ...(after !== undefined ? { afterRevision: after } : {}), ...(flag(args, 'no-current') ? { includeCurrent: false } : {}) });
    for await (const c of iter) {
      n++;
      if (flag(args, 'json')) await writeAll(process.stdout, `${changeJson(c)}\n`);
      else if (flag(args, 'raw')) await writeAll(process.stdout, c.op === 'put' ? `${c.string()}\n` : '\n');
      else await writeAll(process.stdout, changeLine(c, colour));
      if (count !== undefined && n >= count) break;
    }
  } finally {
    stop();
  }
  return count !== undefined && n < count ? 1 : 0;
}

async function run(args: ParsedArgs): Promise<number> {
  const [verb, ...tail] = args.positionals;
  if (verb === undefined || !(VERBS as readonly string[]).includes(verb)) {
    throw new UsageError(`kv needs a verb: ${VERBS.join(', ')}${verb ? ` (got ${JSON.stringify(verb)})` : ''}`, NAME);
  }
  const v = verb as Verb;
  const sub = { ...args, positionals: tail };
  const rest =
    v === 'put'
      ? positionals(sub, NAME, ['BUCKET', 'KEY'], ['VALUE'])
      : v === 'watch' || v === 'keys'
        ? positionals(sub, NAME, ['BUCKET'], ['KEY_OR_PATTERN'])
        : positionals(sub, NAME, ['BUCKET', 'KEY']);
  const bus = await connectFromArgs(args, NAME, v === 'watch' ? {} : { reconnect: false });
  try {
    // Reading verbs never create a bucket; `put` creates it with the defaults if missing.
    return await runVerb(v, kv(bus, rest[0]!, { create: v === 'put' }), rest.slice(1), args);
  } finally {
    await bus.close();
  }
}

export const kvCommand: Command = {
  name: NAME,
  summary: 'read, write and watch KV buckets (needs a durable service)',
  usage: [
    'kv get BUCKET KEY [--revision N] [--json | --raw]',
    'kv put BUCKET KEY [VALUE] [--ttl MS] [--create | --revision N]',
    'kv del BUCKET KEY [--revision N]',
    'kv purge BUCKET KEY',
    'kv watch BUCKET [KEY_OR_PATTERN] [--no-current | --after REV] [--count N] [--json | --raw]',
    'kv keys BUCKET [PATTERN]',
    'kv history BUCKET KEY [--json]',
  ],
  description:
    'Keys are dot-separated tokens (e.g. user.42); patterns use * for one token and > for the rest. `put` reads the value from stdin when VALUE is missing (or "-") and stdin is not a terminal, and creates the bucket with default settings if needed. A failed compare-and-set says PLEXUS_ERR_KV_WRONG_REVISION (or PLEXUS_ERR_KV_KEY_EXISTS with --create) and exits 1. `purge` drops a key with its whole history (watchers see a purge marker). `watch` prints the current values, then every change with its revision; Ctrl-C stops it.',
  examples: [
    "plexus kv put sessions user.42 '{\"cart\":3}' --ttl 1800000",
    'plexus kv get sessions user.42',
    'plexus kv put sessions user.42 new-value --revision 7',
    "plexus kv watch sessions 'user.>'",
    'plexus kv del sessions user.42',
  ],
  options,
  client: true,
  run,
};
