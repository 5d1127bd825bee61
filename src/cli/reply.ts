/** `plexus reply SUBJECT` — answer requests: echo, or run a shell command per request. */
import { spawn } from 'node:child_process';
import { ErrorCode, PlexusError, type Message, type RequestContext } from '../index.js';
import { int, positionals, str, type OptionSpecs, type ParsedArgs } from './args.js';
import { connectFromArgs, onStopSignal } from './client.js';
import type { Command } from './command.js';
import { colourful, describePayload, paint } from './output.js';

const NAME = 'reply';

const options: OptionSpecs = {
  queue: { type: 'string', arg: 'GROUP', help: 'queue group shared by instances (default _serve: each request reaches one)' },
  cmd: { type: 'string', arg: 'COMMAND', help: 'run COMMAND in a shell per request: request data on stdin, reply with its stdout' },
  count: { type: 'string', arg: 'N', help: 'exit after answering N requests' },
};

/**
 * Run `command` in the system shell with `input` on stdin; resolve with stdout. A
 * non-zero exit becomes PLEXUS_ERR_HANDLER_FAILED carrying the end of stderr; the
 * signal (the caller's cancel or deadline) kills the command.
 */
export function runShell(command: string, input: Uint8Array, env: NodeJS.ProcessEnv, signal: AbortSignal, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = '';
    let failure: PlexusError | undefined;
    // Its own process group (POSIX), so a cancel stops whatever the shell started too.
    const group = process.platform !== 'win32';
    const child = spawn(command, { shell: true, stdio: ['pipe', 'pipe', 'pipe'], env, detached: group });
    const kill = (sig: NodeJS.Signals): void => {
      try {
        if (group && child.pid !== undefined) process.kill(-child.pid, sig);
        else child.kill(sig);
      } catch {
        // already gone
      }
    };
    const onAbort = (): void => {
      failure ??= signal.reason instanceof PlexusError ? signal.reason : new PlexusError(ErrorCode.CANCELLED, 'the request was cancelled');
      kill('SIGTERM');
      setTimeout(() => kill('SIGKILL'), 2000).unref();
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > limit) {
        failure ??= new PlexusError(ErrorCode.PAYLOAD_TOO_LARGE, `the command wrote more than ${limit} bytes`);
        kill('SIGKILL');
      } else out.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err = (err + chunk.toString('utf8')).slice(-2000);
    });
    child.stdin.on('error', () => undefined); // the command need not read its stdin
    child.stdin.end(input);
    child.on('error', (e) => {
      failure ??= new PlexusError(ErrorCode.HANDLER_FAILED, `cannot run the command: ${e.message}`);
    });
    child.on('close', (code, sig) => {
      signal.removeEventListener('abort', onAbort);
      if (failure) return reject(failure);
      if (code === 0) return resolve(Buffer.concat(out));
      const why = code !== null ? `exited with code ${code}` : `was killed by ${sig}`;
      reject(new PlexusError(ErrorCode.HANDLER_FAILED, `the command ${why}${err.trim() ? `: ${err.trim()}` : ''}`));
    });
  });
}

async function run(args: ParsedArgs): Promise<number> {
  const [subject] = positionals(args, NAME, ['SUBJECT']);
  const queue = str(args, 'queue');
  const cmd = str(args, 'cmd');
  const count = str(args, 'count') === undefined ? undefined : int(args, NAME, 'count', 0, 1);
  const bus = await connectFromArgs(args, NAME);
  const colour = colourful(process.stderr);
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  let answered = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const stopSignals = onStopSignal(() => done());

  const handler = async (msg: Message, ctx: RequestContext): Promise<Uint8Array> => {
    const n = answered + 1;
    if (count !== undefined && n > count) throw new PlexusError(ErrorCode.SHUTTING_DOWN, 'this responder is finishing');
    answered = n;
    const started = Date.now();
    const head = `${paint(colour, 'gray', `[#${n}]`)} ${paint(colour, 'cyan', msg.subject)} ${paint(colour, 'gray', 'from')} ${paint(colour, 'magenta', ctx.from || '?')}: ${describePayload(msg.data, 120)}`;
    try {
      const reply = cmd
        ? await runShell(cmd, msg.data, { ...process.env, PLEXUS_SUBJECT: msg.subject, PLEXUS_FROM: ctx.from }, ctx.signal, bus.server?.maxPayload ?? 1024 * 1024)
        : msg.data;
      log(`${head} → ${describePayload(reply, 120)} ${paint(colour, 'gray', `(${Date.now() - started} ms)`)}`);
      return reply;
    } catch (err) {
      log(`${head} → ${paint(colour, 'red', `error: ${(err as Error).message}`)}`);
      throw err;
    } finally {
      if (count !== undefined && n >= count) setImmediate(done);
    }
  };

  try {
    bus.serve(subject!, handler, queue ? { queue } : {});
    await bus.flush();
    log(`answering ${subject} (${cmd ? `running: ${cmd}` : 'echoing the request'}) via ${bus.url} as ${bus.server?.identity ?? '?'}${count !== undefined ? `; exiting after ${count}` : ''}`);
    await Promise.race([finished, bus.closed]);
  } finally {
    stopSignals();
    await bus.drain(5000);
  }
  const lost = await bus.closed;
  if (lost) throw lost;
  return 0;
}

export const replyCommand: Command = {
  name: NAME,
  summary: 'answer requests (echo, or with the output of a shell command)',
  usage: ['reply SUBJECT [--queue GROUP] [--cmd COMMAND] [--count N]'],
  description:
    'By default each request is answered with its own payload. With --cmd, COMMAND runs in the shell for each request with the payload on stdin and PLEXUS_SUBJECT / PLEXUS_FROM in its environment; its stdout is the reply, and a non-zero exit sends PLEXUS_ERR_HANDLER_FAILED with the end of its stderr. The caller cancelling or timing out kills the command. A log of requests goes to stderr.',
  examples: ['plexus reply echo', "plexus reply time.now --cmd 'date -u'", "plexus reply text.upper --cmd 'tr a-z A-Z' --queue upper"],
  options,
  client: true,
  run,
};
