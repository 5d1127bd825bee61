/** Demo "calculator": serves calc.average / calc.sum / calc.max over the Unix socket. */
import { ErrorCode, PlexusError } from '../../index.js';
import { demoConnect, fail, ready, say } from './common.js';

const ROLE = 'calculator';

const OPS: Record<string, (xs: number[]) => number> = {
  average: (xs) => Math.round((xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)) * 100) / 100,
  sum: (xs) => xs.reduce((a, b) => a + b, 0),
  max: (xs) => Math.max(...xs),
};

try {
  const bus = await demoConnect(ROLE);
  bus.serve('calc.*', (msg, ctx) => {
    const op = msg.subject.slice('calc.'.length);
    const fn = OPS[op];
    if (!fn) throw new PlexusError(ErrorCode.INVALID_ARGUMENT, `no operation ${op}; try ${Object.keys(OPS).join(', ')}`);
    const xs = msg.json<number[]>();
    if (!Array.isArray(xs) || xs.some((x) => typeof x !== 'number')) throw new PlexusError(ErrorCode.INVALID_ARGUMENT, 'send a JSON array of numbers');
    const result = fn(xs);
    say(`← request ${msg.subject} from "${ctx.from}": ${JSON.stringify(xs)} → reply ${result}`);
    return String(result);
  });
  await bus.flush();
  say(`connected via ${bus.url} as "${bus.server?.identity}"; serving calc.* (average, sum, max)`);
  ready();
} catch (err) {
  fail(ROLE, err);
}
