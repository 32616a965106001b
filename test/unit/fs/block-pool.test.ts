import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { BlockPool } from '../../../src/fs/block-pool.js';
import type { BlockHash } from '../../../src/core/ids.js';
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

  it('copies a block into an open file at each of its offsets, and only when it has the expected hash', async () => {
    const dir = await tempDir('copies');
    const bytes = patternBytes(300_000, 11);
    const source = path.join(dir, 'source');
    await writeFile(source, bytes);
    const target = path.join(dir, 'target');
    const fd = openSync(target, 'w+');
    const block = bytes.subarray(70_000, 70_000 + 65_536);
    const pool = new BlockPool(1, 20);
    try {
      const copied = await pool.copy(source, 70_000, 65_536, { fd, positions: [0, 200_000], hash: sha256(block) as BlockHash });
      assert.equal(copied.digest, sha256(block));
      const written = await readFile(target);
      assert.equal(written.length, 200_000 + 65_536);
      assert.deepEqual(written.subarray(0, 65_536), Buffer.from(block));
      assert.deepEqual(written.subarray(200_000), Buffer.from(block));
      const other = await pool.copy(source, 0, 65_536, { fd, positions: [65_536], hash: sha256(block) as BlockHash });
      assert.equal(other.digest, sha256(bytes.subarray(0, 65_536)), 'the bytes read are reported');
      assert.equal((await readFile(target)).length, 200_000 + 65_536, 'bytes with another hash are not written');
      assert.ok((await readFile(target)).subarray(65_536, 131_072).every((b) => b === 0));
    } finally {
      closeSync(fd);
      await pool.close();
    }
  });
});
