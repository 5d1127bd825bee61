/**
 * Demo "dashboard": subscribes to every sensor with a wildcard over TCP and, every few
 * readings, asks the calculator for an average (request/reply).
 */
import type { PlexusError } from '../../index.js';
import { demoConnect, fail, ready, say } from './common.js';

const ROLE = 'dashboard';

try {
  const bus = await demoConnect(ROLE);
  const sub = bus.subscribe('sensors.>');
  await bus.flush();
  say(`connected via ${bus.url} as "${bus.server?.identity}"; subscribed to sensors.> (wildcard)`);
  ready();
  const recent: number[] = [];
  for await (const msg of sub) {
    const { celsius } = msg.json<{ celsius: number }>();
    say(`← ${msg.subject} from "${msg.from}": ${celsius} °C`);
    recent.push(celsius);
    if (recent.length === 3) {
      const batch = recent.splice(0);
      say(`→ request calc.average ${JSON.stringify(batch)}`);
      bus.request('calc.average', JSON.stringify(batch), { timeout: 2000 }).then(
        (reply) => say(`← reply from "${reply.from}": average ${reply.string()} °C`),
        (err: PlexusError) => say(`✗ calc.average failed: ${err.message} (${err.code})`),
      );
    }
  }
} catch (err) {
  fail(ROLE, err);
}
