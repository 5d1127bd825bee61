/**
 * child_process IPC adapter: the requester forks bench/ipc-echo.js and round-trips
 * `process.send` messages (default JSON serialization, payload as a string of the same
 * length). The echo child is killed by its PID when the requester closes.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Requester } from './types.js';

const ECHO = fileURLToPath(new URL('../ipc-echo.js', import.meta.url));

interface EchoMsg {
  id: number;
  data: string;
}

export async function ipcRequester(): Promise<Requester> {
  const child = fork(ECHO, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const pid = child.pid;
  const pending = new Map<number, { resolve: (n: number) => void; reject: (e: unknown) => void }>();
  let next = 0;
  child.on('message', (m: EchoMsg) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    p.resolve(m.data.length);
  });
  child.once('exit', (code) => {
    for (const p of pending.values()) p.reject(new Error(`echo child exited (${code})`));
    pending.clear();
  });
  const killChild = (): void => {
    if (pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  };
  process.once('exit', killChild);
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('error', reject);
  });
  const text = new Map<number, string>();
  return {
    call(payload) {
      let data = text.get(payload.length);
      if (data === undefined) text.set(payload.length, (data = 'x'.repeat(payload.length)));
      const id = ++next;
      return new Promise<number>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.send({ id, data } satisfies EchoMsg);
      });
    },
    close: async () => {
      process.off('exit', killChild);
      killChild();
    },
  };
}
