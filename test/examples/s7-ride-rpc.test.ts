import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeRun, runExample } from './run-example.js';

describe('example s7-ride-rpc', { timeout: 30_000 }, () => {
  it('rides are routed by two load-balanced instances, a deadline travels two hops, errors keep their codes', async (t) => {
    const run = await runExample(t, 's7-ride-rpc', [], 20_000);
    const why = describeRun(run);
    assert.equal(run.code, 0, why);
    assert.equal(run.stderr, '', why);
    assert.equal(run.lines.at(-1), 'OK', why);

    // 1. Four rides, each priced from a real shortest path, spread over both instances.
    const rides = [...run.stdout.matchAll(/^\[app\] (\w+): (ride-\d) (\S+) (\d+) km fare ([\d.]+) routed by (routing-[ab])$/gm)];
    assert.deepEqual(
      rides.map((m) => [m[1], m[3], Number(m[4])]),
      [
        ['ann', 'home>park>station>harbor', 7],
        ['bob', 'park>station>harbor', 5],
        ['cy', 'home>park>market', 6],
        ['di', 'station>park', 2],
      ],
      why,
    );
    assert.deepEqual(new Set(rides.map((m) => m[6])), new Set(['routing-a', 'routing-b']), why);
    // The routing service saw the ride service as its caller (stamped by the broker).
    assert.match(run.stdout, /^\[routing-[ab]\] home -> harbor: 7 km for rides$/m, why);
    assert.equal([...run.stdout.matchAll(/^\[app\] event rideBooked ride-\d from rides$/gm)].length, 4, why);

    // 2. The deadline reached the routing instance (less than 300 ms left there) and stopped its lookup.
    const left = /^\[routing-[ab]\] home -> airport: traffic lookup \((\d+) ms left\)$/m.exec(run.stdout);
    assert.ok(left && Number(left[1]) <= 300, why);
    assert.match(run.stdout, /^\[app\] eve: PLEXUS_ERR_TIMEOUT after ~\d+ ms$/m, why);
    const stopped = /^\[routing-[ab]\] traffic lookup stopped after (\d+) ms: PLEXUS_ERR_TIMEOUT$/m.exec(run.stdout);
    assert.ok(stopped && Number(stopped[1]) < 2000, why);

    // 3 and 4.
    assert.match(run.stdout, /^\[app\] refused locally: PLEXUS_ERR_VALIDATION at rider$/m, why);
    assert.match(run.stdout, /^\[app\] fay: ServiceError NO_ROUTE: no road from home to moon \{"from":"home","to":"moon"\}$/m, why);
  });
});
