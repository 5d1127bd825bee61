import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeRun, runExample } from './run-example.js';

describe('example s3-grpc-calculator', { timeout: 30_000 }, () => {
  it('one handler answers a plain grpc-js client and a Plexus client (binary protobuf), errors mapped on both', async (t) => {
    const run = await runExample(t, 's3-grpc-calculator', [], 20_000);
    const why = describeRun(run);
    assert.equal(run.code, 0, why);
    assert.equal(run.stderr, '', why);
    assert.ok(run.lines.includes('grpc-js client: Add(2, 3) = 5'), why);
    assert.ok(run.lines.includes('grpc-js client: Divide(1, 0) -> status INVALID_ARGUMENT "division by zero"'), why);
    // AddRequest{a: 2, b: 3}: field 1 and 2 as 64-bit doubles (tags 0x09, 0x11), 18 bytes.
    assert.ok(run.lines.includes('bus request payload: 18 bytes protobuf 090000000000000040110000000000000840'), why);
    assert.ok(run.lines.includes('plexus client: Add(2, 3) = 5'), why);
    assert.ok(run.lines.includes('plexus client: Count(3) = 1 2 3'), why);
    assert.ok(run.lines.includes('plexus client: Divide(1, 0) -> ServiceError INVALID_ARGUMENT "division by zero" {"dividend":1}'), why);
    assert.ok(run.lines.includes('bus service on $SRV.calculator.1.Add'), why);
  });
});
