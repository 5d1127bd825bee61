/** The optional dependency: grpc-js loads on demand, and a missing package is a coded error. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ErrorCode } from '../../src/index.js';
import { importGrpc } from '../../src/grpc/load.js';
import { loadGrpc } from '../../src/grpc/index.js';
import { codeOf } from '../helpers/wait.js';

test('loadGrpc gives the grpc-js module; a package that is not installed is PLEXUS_ERR_CONFIG naming it', async () => {
  const grpc = await loadGrpc();
  assert.equal(typeof grpc.Server, 'function');
  assert.equal(grpc.status.DEADLINE_EXCEEDED, 4);
  assert.equal(await loadGrpc(), grpc, 'loaded once');
  const missing = '@plexus-test/no-such-grpc';
  const err = await importGrpc(missing).catch((e: unknown) => e);
  assert.equal(codeOf(err), ErrorCode.CONFIG);
  assert.match((err as Error).message, /needs @plexus-test\/no-such-grpc: npm install @plexus-test\/no-such-grpc/);
});
