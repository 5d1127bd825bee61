/**
 * `plexus lock NAME [--ttl MS] -- COMMAND…` runs a command while holding a distributed
 * lock (renewing its lease), hands it the fencing token in `PLEXUS_FENCE`, releases the
 * lock when it exits and exits with its code; `plexus lock info NAME` shows the holder.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { lock, type Lease } from '../patterns/index.js';
import { flag, int, str, UsageError, type OptionSpecs, type ParsedArgs } from './args.js';
import { connectFromArgs, onStopSignal } from './client.js';
import type { Command } from './command.js';
import { writeAll } from './output.js';

const NAME = 'lock';

const options: OptionSpecs = {
  ttl: { type: 'string', arg: 'MS', help: 'lease length, renewed every third of it while the command runs (default 10000)' },
  wait: { type: 'string', arg: 'MS', help: 'give up (exit 1, PLEXUS_ERR_TIMEOUT) if the lock is not free within MS (default 60000)' },
  json: { type: 'boolean', help: 'info: print JSON' },
};

/** The command after `--` on the real command line (positionals cannot tell where `--` was). */
function commandAfterDashes(): string[] | undefined {
  const i = process.argv.indexOf('--');
  return i < 0 ? undefined : process.argv.slice(i + 1);
}

/** Exit code of a child that ended by `signal`, as shells report it. */
function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

async function info(args: ParsedArgs, name: string): Promise<number> {
  const bus = await connectFromArgs(args, NAME, { reconnect: false });
  try {
    const i = await lock(bus, name).info();
    if (flag(args, 'json')) {
      await writeAll(process.stdout, `${JSON.stringify(i)}\n`);
      return 0;
    }
    const now = Date.now();
    const h = i.holders[0];
    const line = h
      ? `lock ${name}: held by ${h.owner}, token ${h.token}, lease ends in ${Math.max(0, h.expiresAt - now)} ms; ${i.waiting} waiting\n`
      : `lock ${name}: free (last token ${i.lastToken}); ${i.waiting} waiting\n`;
    await writeAll(process.stdout, line);
    return 0;
  } finally {
    await bus.close();
  }
}

/** Run `cmd` with the lease's token in its environment; resolve with its exit code. */
function runHolding(lease: Lease, cmd: readonly string[]): Promise<number> {
  return new Promise<number>((resolve) => {
    const child = spawn(cmd[0]!, cmd.slice(1), {
      stdio: 'inherit',
      env: { ...process.env, PLEXUS_FENCE: String(lease.token), PLEXUS_LOCK: lease.name },
    });
    let lost = false;
    // A lost lease means another process may now hold the lock: stop the command.
    const onLost = (): void => {
      lost = true;
      process.stderr.write(`plexus: the lease on lock ${lease.name} was lost; stopping the command (PLEXUS_ERR_LEASE_LOST)\n`);
      child.kill('SIGTERM');
    };
    lease.signal.addEventListener('abort', onLost, { once: true });
    const stop = onStopSignal((signal) => child.kill(signal));
    const finish = (code: number): void => {
      stop();
      lease.signal.removeEventListener('abort', onLost);
      resolve(code);
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      process.stderr.write(`plexus: cannot run ${cmd[0]}: ${err.message}\n`);
      finish(err.code === 'ENOENT' ? 127 : 126);
    });
    child.once('exit', (code, signal) => {
      const c = code ?? (signal ? signalExitCode(signal) : 1);
      finish(lost && c === 0 ? 1 : c);
    });
  });
}

async function run(args: ParsedArgs): Promise<number> {
  const cmd = commandAfterDashes();
  const [first, second] = args.positionals;
  if (first === 'info' && cmd === undefined) {
    if (second === undefined || args.positionals.length !== 2) throw new UsageError('lock info needs exactly one NAME', NAME);
    return info(args, second);
  }
  if (first === undefined) throw new UsageError('lock needs a NAME', NAME);
  if (cmd === undefined || cmd.length === 0) throw new UsageError('lock needs the command to run after --', NAME);
  const ttlMs = int(args, NAME, 'ttl', 10_000, 50, 600_000);
  const waitMs = str(args, 'wait') === undefined ? 60_000 : int(args, NAME, 'wait', 0, 0);
  const bus = await connectFromArgs(args, NAME);
  try {
    const lease = await lock(bus, first, { ttlMs }).acquire({ timeoutMs: waitMs });
    try {
      return await runHolding(lease, cmd);
    } finally {
      await lease.release().catch((err: unknown) => {
        // Not fatal: the lease ends by itself when its TTL passes.
        process.stderr.write(`plexus: could not release lock ${first}: ${(err as Error).message}\n`);
      });
    }
  } finally {
    await bus.close();
  }
}

export const lockCommand: Command = {
  name: NAME,
  summary: 'run a command while holding a distributed lock (needs a durable service)',
  usage: ['lock NAME [--ttl MS] [--wait MS] -- COMMAND [ARGS…]', 'lock info NAME [--json]'],
  description:
    'Waits for the lock, then runs COMMAND with PLEXUS_FENCE set to the fencing token (and PLEXUS_LOCK to the name), renewing the lease while it runs; releases the lock when it exits and exits with its code (128+N for a signal). If the lease is lost (the broker was unreachable for longer than the TTL), COMMAND gets SIGTERM and plexus exits non-zero. Pass the token as the fence of KV writes so a holder that lost the lock cannot overwrite the next one.',
  examples: ['plexus lock nightly-report --ttl 30000 -- ./make-report.sh', 'plexus lock info nightly-report'],
  options,
  client: true,
  run,
};
