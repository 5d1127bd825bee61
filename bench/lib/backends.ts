/** Is nats-server / redis reachable on 127.0.0.1? Probed with their greeting, bounded in time. */
import net from 'node:net';

export interface Availability {
  readonly ok: boolean;
  /** Version when available, reason when not. */
  readonly detail: string;
}

function probe(port: number, hello: string | undefined, parse: (text: string) => string | undefined, timeoutMs = 1500): Promise<Availability> {
  return new Promise((resolve) => {
    let text = '';
    let settled = false;
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (a: Availability): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(a);
    };
    const timer = setTimeout(() => done({ ok: false, detail: 'no answer' }), timeoutMs);
    socket.on('connect', () => {
      if (hello) socket.write(hello);
    });
    socket.on('data', (d: Buffer) => {
      text += d.toString('utf8');
      const v = parse(text);
      if (v !== undefined) done({ ok: true, detail: v });
    });
    socket.on('error', (err) => done({ ok: false, detail: err.message }));
    socket.on('close', () => done({ ok: false, detail: 'closed' }));
  });
}

/** nats-server greets with `INFO {json}`. */
export function probeNats(): Promise<Availability> {
  return probe(4222, undefined, (t) => {
    const m = /^INFO (\{.*\})\s*\n/.exec(t);
    if (!m) return undefined;
    try {
      return `nats-server ${String((JSON.parse(m[1]!) as { version?: unknown }).version)}`;
    } catch {
      return 'nats-server';
    }
  });
}

/** redis answers `INFO server` with a bulk string holding `redis_version:`. */
export function probeRedis(): Promise<Availability> {
  return probe(6379, 'INFO server\r\n', (t) => {
    if (t.startsWith('-')) return 'redis (INFO refused)';
    const m = /redis_version:([^\r\n]+)/.exec(t);
    return m ? `redis ${m[1]}` : undefined;
  });
}
