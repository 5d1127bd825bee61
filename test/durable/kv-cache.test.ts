import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KvEntryCache } from '../../src/durable/kv-cache.js';

const entry = (revision: number, value = 'x'.repeat(100)) => ({ key: `k${revision}`, revision, op: 'put' as const, createdAt: 1, updatedAt: 1, value });

test('KV entry cache: hits by revision, evicts the least recently used past its byte budget', () => {
  const cache = new KvEntryCache(3 * (2 * (2 + 100) + 64)); // room for exactly three entries
  for (const r of [1, 2, 3]) cache.set(entry(r));
  assert.equal(cache.get(1)?.revision, 1); // 1 is now the most recently used
  cache.set(entry(4)); // evicts 2, the least recently used
  assert.equal(cache.get(2), undefined);
  assert.deepEqual([1, 3, 4].map((r) => cache.get(r)?.revision), [1, 3, 4]);
  cache.set(entry(5, 'y'.repeat(10_000))); // larger than the whole budget: not cached
  assert.equal(cache.get(5), undefined);
  assert.equal(cache.get(4)?.revision, 4);
});
