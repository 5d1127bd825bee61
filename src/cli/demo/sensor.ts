/** Demo "sensor": publishes temperature readings for two rooms over the Unix socket. */
import { demoConnect, fail, ready, say } from './common.js';

const ROLE = 'sensor';

try {
  const bus = await demoConnect(ROLE);
  say(`connected via ${bus.url}; the broker knows me as "${bus.server?.identity}"`);
  const rooms = ['kitchen', 'garage'];
  const base: Record<string, number> = { kitchen: 21, garage: 14 };
  let seq = 0;
  const tick = (): void => {
    const room = rooms[seq % rooms.length]!;
    seq++;
    const celsius = Math.round((base[room]! + (Math.random() - 0.5) * 2) * 10) / 10;
    const subject = `sensors.${room}.temp`;
    const payload = JSON.stringify({ celsius, seq });
    bus.publish(subject, payload);
    say(`→ publish ${subject} ${payload}`);
  };
  await bus.flush();
  ready();
  tick();
  setInterval(tick, 400);
} catch (err) {
  fail(ROLE, err);
}
