import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { BlockPool } from '../../../src/fs/block-pool.js';
import { patternBytes, tempDir } from './helpers.js';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('block pool', () => {
  it('starts workers on demand, reads and hashes on them, stops them when idle and starts them again', async () => {
    const dir = await tempDir('blocks');
    const bytes = patternBytes(300_000, 7);
    const file = path.join(dir, 'f');
    await writeFile(file, bytes);
    const pool = new BlockPool(2, 20);
    try {
      assert.equal(pool.running, 0, 'no worker before the first job');
      const read = await pool.read(file, 1000, 128 * 1024, 64);
      assert.deepEqual(Buffer.from(read.data), bytes.subarray(1000, 1000 + 128 * 1024));
      assert.equal(read.digest, sha256(bytes.subarray(1000, 1000 + 128 * 1024)));
      assert.ok(pool.running <= 1, 'one job at a time needs one worker');
      const two = [pool.read(file, 0, 65_536), pool.read(file, 65_536, 65_536)];
      assert.equal(pool.running, 2, 'a second job while the first is out starts a second worker');
      const both = await Promise.all(two);
      assert.deepEqual(both.map((b) => b.digest), [sha256(bytes.subarray(0, 65_536)), sha256(bytes.subarray(65_536, 131_072))]);
      while (pool.running > 0) await new Promise((r) => setTimeout(r, 10));
      const hashed = await pool.hash(Buffer.from(bytes.subarray(0, 100_000)));
      assert.equal(hashed.digest, sha256(bytes.subarray(0, 100_000)));
      assert.equal(pool.running, 1, 'a job after the idle stop starts a worker again');
    } finally {
      await pool.close();
    }
  });
});
