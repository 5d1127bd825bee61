/**
 * A small layer over `node:util` parseArgs: option specs that carry their own help
 * text, usage errors with a stable code, and typed readers for numbers and sizes.
 */
import { parseArgs } from 'node:util';
import { ErrorCode, PlexusError } from '../index.js';

/** One flag a command accepts. */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly multiple?: boolean;
  /** Shown after the flag in help, e.g. `URL`. */
  readonly arg?: string;
  readonly help: string;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** What a parsed command line gives a command. */
export interface ParsedArgs {
  readonly values: Readonly<Record<string, string | boolean | string[] | undefined>>;
  readonly positionals: readonly string[];
}

/** A mistake in how the command was called: printed with the usage hint, exit code 2. */
export class UsageError extends PlexusError {
  constructor(
    message: string,
    readonly command: string,
  ) {
    super(ErrorCode.INVALID_ARGUMENT, message);
  }
}

/** Parse `argv` strictly against `specs`. */
export function parse(command: string, argv: readonly string[], specs: OptionSpecs): ParsedArgs {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, s] of Object.entries(specs)) {
    options[name] = { type: s.type, ...(s.short ? { short: s.short } : {}), ...(s.multiple ? { multiple: true } : {}) };
  }
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
    return { values: values as ParsedArgs['values'], positionals };
  } catch (err) {
    // parseArgs throws TypeErrors with ERR_PARSE_ARGS_* codes and a readable message.
    const message = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new UsageError(message.charAt(0).toLowerCase() + message.slice(1), command);
  }
}

/** A string flag's value (the last one if repeated). */
export function str(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  if (Array.isArray(v)) return v[v.length - 1];
  return typeof v === 'string' ? v : undefined;
}

/** Every value of a repeatable flag. */
export function list(args: ParsedArgs, name: string): string[] {
  const v = args.values[name];
  if (Array.isArray(v)) return v;
  return typeof v === 'string' ? [v] : [];
}

export function flag(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}

/** An integer flag in [min, max], or `fallback` when absent. */
export function int(args: ParsedArgs, command: string, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = str(args, name);
  if (raw === undefined) return fallback;
  const v = /^-?\d+$/.test(raw.replace(/_/g, '')) ? Number(raw.replace(/_/g, '')) : NaN;
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new UsageError(`--${name} needs a whole number${rangeText(min, max)}, got ${JSON.stringify(raw)}`, command);
  }
  return v;
}

/** A positive number of seconds (fractions allowed). */
export function seconds(args: ParsedArgs, command: string, name: string): number | undefined {
  const raw = str(args, name);
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0 || v > 86_400) throw new UsageError(`--${name} needs a number of seconds > 0, got ${JSON.stringify(raw)}`, command);
  return v;
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 };

/** A byte size like `65536`, `64k`, `1MiB` (binary units), or `fallback` when absent. */
export function size(args: ParsedArgs, command: string, name: string, fallback: number | undefined, min = 1): number | undefined {
  const raw = str(args, name);
  if (raw === undefined) return fallback;
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(raw.trim());
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  const v = m && unit !== undefined ? Math.round(Number(m[1]) * unit) : NaN;
  if (!Number.isSafeInteger(v) || v < min) {
    throw new UsageError(`--${name} needs a size in bytes such as 65536, 64k or 1MiB (at least ${min}), got ${JSON.stringify(raw)}`, command);
  }
  return v;
}

/** `k=v` pairs from a repeatable flag. */
export function pairs(args: ParsedArgs, command: string, name: string): Record<string, string> | undefined {
  const items = list(args, name);
  if (items.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const item of items) {
    const i = item.indexOf('=');
    if (i <= 0) throw new UsageError(`--${name} needs key=value, got ${JSON.stringify(item)}`, command);
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}

/** Exactly the positionals a command wants; names are for the error message. */
export function positionals(args: ParsedArgs, command: string, required: readonly string[], optional: readonly string[] = []): string[] {
  const got = args.positionals;
  if (got.length < required.length) {
    throw new UsageError(`missing ${required.slice(got.length).join(' and ')}`, command);
  }
  if (got.length > required.length + optional.length) {
    const extra = got.slice(required.length + optional.length);
    throw new UsageError(`unexpected argument${extra.length > 1 ? 's' : ''} ${extra.map((e) => JSON.stringify(e)).join(' ')}`, command);
  }
  return [...got];
}

function rangeText(min: number, max: number): string {
  if (max === Number.MAX_SAFE_INTEGER) return min === 0 ? ' ≥ 0' : ` ≥ ${min}`;
  return ` from ${min} to ${max}`;
}

/** Render an option table for help. */
export function renderOptions(specs: OptionSpecs): string {
  const rows = Object.entries(specs).map(([name, s]) => {
    const left = `${s.short ? `-${s.short}, ` : '    '}--${name}${s.arg ? ` ${s.arg}` : ''}`;
    return [left, s.help + (s.multiple ? ' (repeatable)' : '')] as const;
  });
  const width = Math.min(34, Math.max(...rows.map(([l]) => l.length)) + 2);
  return rows.map(([l, r]) => `  ${l.padEnd(width)}${l.length >= width ? `\n  ${' '.repeat(width)}` : ''}${r}`).join('\n');
}
