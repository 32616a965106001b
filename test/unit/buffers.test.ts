import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferPool } from '../../src/core/buffers.js';

test('a block buffer pool reuses a buffer of the next size up, and trim lets every free buffer go', () => {
  const pool = new BufferPool();
  const withRoom = pool.take(256 * 1024 + 100); // a 256 KiB block with header room: the 320 KiB size
  assert.equal(withRoom.byteLength, 320 * 1024);
  pool.give(withRoom);
  assert.equal(pool.pooledBytes, 320 * 1024);
  assert.equal(pool.take(256 * 1024), withRoom, 'a 256 KiB block reuses the 320 KiB buffer');
  assert.equal(pool.pooledBytes, 0);
  pool.give(withRoom);
  const small = pool.take(64 * 1024);
  assert.notEqual(small, withRoom, 'no more than one size up');
  const before = pool.takes;
  pool.trim();
  assert.equal(pool.pooledBytes, 0);
  assert.notEqual(pool.take(320 * 1024), withRoom, 'trimmed buffers are not handed out again');
  assert.equal(pool.takes, before + 1);
});
