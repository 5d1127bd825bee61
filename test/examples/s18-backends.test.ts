import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeRun, runExample } from './run-example.js';

// The same S4 producer/consumer on the embedded broker and on RabbitMQ (127.0.0.1:5672, needed).
describe('example s18-backends', { timeout: 120_000 }, () => {
  for (const [label, args] of [
    ['the embedded broker', []],
    ['RabbitMQ (amqp://)', ['amqp://127.0.0.1']],
  ] as const) {
    it(`the S4 hello producer and consumer run unchanged on ${label}`, async (t) => {
      const run = await runExample(t, 's18-backends', [...args], 50_000);
      const why = describeRun(run);
      assert.equal(run.code, 0, why);
      assert.equal(run.stderr, '', why);
      assert.match(run.stdout, new RegExp(`^target: ${args.length === 0 ? 'tcp' : 'amqp'}$`, 'm'), why);
      assert.match(run.stdout, /^\[send\] {2}\[x\] Sent 'Hello World!' \(stored as #\d+\)$/m, why);
      assert.match(run.stdout, /^queue hello holds 2 messages before the consumer runs$/m, why);
      const from = args.length === 0 ? 'anonymous' : 'guest';
      assert.match(run.stdout, new RegExp(`^\\[worker\\] {2}\\[x\\] Received 'Hello World!' from ${from} \\(delivery 1\\)$`, 'm'), why);
      assert.match(run.stdout, /^\[worker\] {2}\[x\] Done 'Second task\.'$/m, why);
      assert.match(run.stdout, /^queue hello holds 0 messages after the consumer acknowledged them$/m, why);
      assert.equal(run.lines.at(-1), 'OK', why);
    });
  }
});
