import assert from 'node:assert/strict';
import { chmod, mkdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PeerId } from '../../../src/core/ids.js';
import type { Event, LocalObservation, RecordedEvent } from '../../../src/events/types.js';
import { evolve, initialState } from '../../../src/projections/state.js';
import type { CachedEntry } from '../../../src/fs/disk.js';
import { BlockHasher, hashFileAsync, hashFileSync } from '../../../src/fs/hash-core.js';
import { BlockPool } from '../../../src/fs/block-pool.js';
import { HashPool } from '../../../src/fs/hash-pool.js';
import { observe, scan, scanCacheOf, toLocalChanges } from '../../../src/fs/scanner.js';
import type { ScanProgress } from '../../../src/fs/scanner.js';
import { independentBlocks, patternBytes, sp, tempDir } from './helpers.js';

const byPath = (list: readonly LocalObservation[]): Map<string, LocalObservation> => new Map(list.map((o) => [o.path, o]));

describe('block hashing', () => {
  it('splits chunks of any size at block boundaries exactly as slicing does', () => {
    const bytes = patternBytes(3 * 131072 + 777, 7);
    const expected = independentBlocks(bytes);
    for (const chunk of [1, 1000, 131071, 131072, 131073, 500_000]) {
      const h = new BlockHasher(expected.blockSizeBytes);
      for (let i = 0; i < bytes.length; i += chunk) h.update(bytes.subarray(i, i + chunk));
      assert.deepEqual(h.finish(), expected.blocks, `chunk size ${chunk}`);
    }
  });

  it('hashes a multi-block file across read-buffer boundaries the same way in every mode', async () => {
    const dir = await tempDir('hash');
    const bytes = patternBytes(4 * 1024 * 1024 + 300_001, 3); // crosses the 4 MiB read buffer
    const file = path.join(dir, 'big.bin');
    await writeFile(file, bytes);
    const expected = independentBlocks(bytes);
    assert.ok(expected.blocks.length > 30);
    const pool = new HashPool(2);
    try {
      const fromPool = await pool.hash(file, bytes.length);
      assert.equal(pool.threads, 2, 'the workers started (TypeScript sources load through tsx in them)');
      const inThread = await hashFileAsync(file);
      const sync = hashFileSync(file, Buffer.allocUnsafe(1 << 20));
      for (const d of [fromPool, inThread, sync]) {
        assert.equal(d.size, bytes.length);
        assert.equal(d.blockSizeBytes, expected.blockSizeBytes);
        assert.deepEqual(d.blocks, expected.blocks);
      }
    } finally {
      await pool.close();
    }
  });

  it('reports a missing file with its errno through the pool', async () => {
    const pool = new HashPool(1);
    try {
      await assert.rejects(pool.hash('/nonexistent/ploppy/file'), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
    } finally {
      await pool.close();
    }
  });

  it('starts workers on demand and stops them when idle, then starts them again', async () => {
    const dir = await tempDir('hash');
    const bytes = patternBytes(300_000, 5);
    const file = path.join(dir, 'f');
    await writeFile(file, bytes);
    const pool = new HashPool(2, 20);
    try {
      assert.equal(pool.running, 0, 'no worker before the first job');
      assert.deepEqual((await pool.hash(file, bytes.length)).blocks, independentBlocks(bytes).blocks);
      assert.equal(pool.running, 1, 'one job needs one worker');
      while (pool.running > 0) await new Promise((r) => setTimeout(r, 10));
      assert.equal(pool.threads, 2, 'an idle worker that stopped is not a dead one');
      assert.deepEqual((await pool.hash(file, bytes.length)).blocks, independentBlocks(bytes).blocks);
      assert.equal(pool.running, 1);
    } finally {
      await pool.close();
    }
  });

  it('hashes on a block pool it shares, whose workers outlive it', async () => {
    const dir = await tempDir('hash');
    const bytes = patternBytes(600_000, 13);
    const file = path.join(dir, 'f');
    await writeFile(file, bytes);
    const blocks = new BlockPool(2, 5_000);
    const pool = new HashPool(blocks);
    try {
      assert.equal(pool.threads, 2);
      const [a, b] = await Promise.all([pool.hash(file, bytes.length), blocks.read(file, 0, 1000)]);
      assert.deepEqual(a.blocks, independentBlocks(bytes).blocks);
      assert.ok(blocks.running >= 1 && blocks.running <= 2, 'file hashing and block reads ran on the same workers');
      assert.equal(pool.running, blocks.running);
      await assert.rejects(pool.hash(path.join(dir, 'missing')), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
      await pool.close();
      const running = blocks.running;
      assert.ok(running >= 1, 'closing the hash pool left the shared workers running');
      assert.equal((await blocks.read(file, 0, 1000)).digest, b.digest);
      await assert.rejects(pool.hash(file), /closed/);
    } finally {
      await pool.close();
      await blocks.close();
    }
  });

  it('falls back to the calling thread with no workers', async () => {
    const dir = await tempDir('hash');
    const bytes = patternBytes(200_000, 9);
    await writeFile(path.join(dir, 'f'), bytes);
    const pool = new HashPool(0);
    try {
      assert.equal(pool.threads, 0);
      assert.deepEqual((await pool.hash(path.join(dir, 'f'))).blocks, independentBlocks(bytes).blocks);
    } finally {
      await pool.close();
    }
  });
});

const self = 'a0a0a0a0a0a0a0a0' as PeerId;

describe('scanner', () => {
  let root: string;
  let outside: string;
  const big = patternBytes(1024 * 1024 + 5, 11);
  const nfdName = 'cafe\u0301.txt';
  let pool: HashPool;

  before(async () => {
    root = await tempDir('scan');
    outside = await tempDir('outside');
    pool = new HashPool(2);
    await writeFile(path.join(outside, 'secret.txt'), 'not yours');
    await mkdir(path.join(root, 'a/b/c'), { recursive: true });
    await writeFile(path.join(root, 'a/b/c/deep.txt'), 'deep');
    await writeFile(path.join(root, 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
    await chmod(path.join(root, 'run.sh'), 0o755);
    await writeFile(path.join(root, 'readonly.txt'), 'r');
    await chmod(path.join(root, 'readonly.txt'), 0o444);
    await writeFile(path.join(root, 'empty'), '');
    await writeFile(path.join(root, 'big.bin'), big);
    await writeFile(path.join(root, nfdName), 'accent');
    await symlink(outside, path.join(root, 'link-to-dir'));
    await symlink('../nowhere', path.join(root, 'a/dangling'));
    await writeFile(path.join(root, '.ploppy-tmp-0123abcd-big.bin'), 'partial');
    await mkdir(path.join(root, '.ploppy-tmp-staging'));
    await writeFile(path.join(root, '.ploppy-tmp-staging/.ploppy-tmp-4567cdef-0123456789ab-staged.bin'), 'partial');
  });
  after(async () => pool.close());

  it('records files, directories and symlinks with owner mode bits', async () => {
    const r = await scan(root, { pool });
    const seen = byPath(r.changed);
    assert.equal(seen.get('run.sh')?.mode, 7);
    assert.equal(seen.get('readonly.txt')?.mode, 4);
    assert.equal(seen.get('empty')?.mode, 6);
    assert.equal(seen.get('a')?.type, 'directory');
    assert.equal(seen.get('a/b/c')?.type, 'directory');
    assert.equal(seen.get('a/b/c/deep.txt')?.size, 4);
    assert.equal(r.files, 6);
    assert.equal(r.directories, 3);
    assert.equal(r.symlinks, 2);
  });

  it('records symlinks with their target and never follows them', async () => {
    const r = await scan(root, { pool });
    const link = byPath(r.changed).get('link-to-dir');
    assert.equal(link?.type, 'symlink');
    assert.equal(link?.target, outside);
    assert.deepEqual(link?.blocks, []);
    assert.equal(byPath(r.changed).get('a/dangling')?.target, '../nowhere');
    assert.ok(r.changed.every((o) => !o.path.startsWith('link-to-dir/')), 'nothing under a symlinked directory');
  });

  it('normalises names to NFC', async () => {
    const r = await scan(root, { pool });
    const names: string[] = r.changed.map((o) => o.path);
    assert.ok(names.includes('caf\u00e9.txt'), 'NFC form reported');
    assert.ok(!names.includes(nfdName), 'NFD form not reported');
  });

  it('hashes empty files to no blocks and multi-block files like an independent hasher', async () => {
    const r = await scan(root, { pool });
    const seen = byPath(r.changed);
    assert.equal(seen.get('empty')?.size, 0);
    assert.deepEqual(seen.get('empty')?.blocks, []);
    const expected = independentBlocks(big);
    assert.ok(expected.blocks.length > 1);
    assert.equal(seen.get('big.bin')?.blockSizeBytes, expected.blockSizeBytes);
    assert.deepEqual(seen.get('big.bin')?.blocks, expected.blocks);
  });

  it('lists parents before children and skips (but reports) temp files', async () => {
    const r = await scan(root, { pool });
    const names: string[] = r.changed.map((o) => o.path);
    assert.ok(names.indexOf('a') < names.indexOf('a/b') && names.indexOf('a/b') < names.indexOf('a/b/c/deep.txt'));
    assert.ok(names.every((n) => !n.includes('.ploppy-tmp-')));
    assert.deepEqual(r.tempFiles.map((t) => path.relative(root, t)).sort(), ['.ploppy-tmp-0123abcd-big.bin', '.ploppy-tmp-staging/.ploppy-tmp-4567cdef-0123456789ab-staged.bin']);
  });

  it('gives the same result with or without the worker pool', async () => {
    const a = await scan(root, { pool });
    const b = await scan(root);
    assert.deepEqual(a.changed, b.changed);
  });

  it('trusts the cache for files whose size, mtime and inode match, and rehashes the rest', async () => {
    const first = await scan(root, { pool });
    const fake = 'f'.repeat(64) as CachedEntry['blocks'][number];
    const cache = new Map<string, CachedEntry>(first.entries);
    const bigEntry = first.entries.get(sp('big.bin'));
    assert.ok(bigEntry);
    cache.set('big.bin', { ...bigEntry, blocks: [fake] }); // same stat, different blocks: proves it was not read
    const deep = first.entries.get(sp('a/b/c/deep.txt'));
    assert.ok(deep);
    cache.set('a/b/c/deep.txt', { ...deep, ino: deep.ino + 1, blocks: [fake] }); // other inode: must be read
    const second = await scan(root, { pool, cache });
    assert.deepEqual(second.entries.get(sp('big.bin'))?.blocks, [fake]);
    assert.deepEqual(second.changed.map((o) => o.path), ['a/b/c/deep.txt']);
    assert.deepEqual(byPath(second.changed).get('a/b/c/deep.txt')?.blocks, deep.blocks);
    assert.equal(second.unchanged, first.entries.size - 1);
  });

  it('reports a touched file once; folded, its new mtime is trusted by the next scan, after a restart too', async () => {
    const dir = await tempDir('touch');
    const file = path.join(dir, 't.txt');
    await writeFile(file, 'same bytes');
    const state = initialState();
    let seq = 0;
    const fold = (e: Event): void => void evolve(state, { ...e, seq: ++seq, hlc: { wallMs: 1_000 + seq, counter: 0 }, peer: self } as RecordedEvent);
    fold({ type: 'NetworkCreated', data: { networkId: 'n', name: 'touch', peer: self, dir } });
    const created = await scan(dir, { pool });
    for (const o of created.changed) fold({ type: 'LocalFileChanged', data: o });
    const before = state.files.get(sp('t.txt'));
    await utimes(file, new Date(), new Date(Date.now() + 60_000));
    // A restart: no inodes remembered, only the projection.
    const hashed = (r: ScanProgress[]): number => r.at(-1)?.filesToHash ?? -1;
    const progress1: ScanProgress[] = [];
    const touched = await scan(dir, { pool, cache: scanCacheOf(state.files, new Map()), onProgress: (p) => progress1.push(p) });
    assert.equal(hashed(progress1), 1, 'the touched file is hashed once');
    assert.deepEqual(touched.changed.map((o) => o.path), ['t.txt']);
    for (const o of touched.changed) fold({ type: 'LocalFileChanged', data: o });
    const after = state.files.get(sp('t.txt'));
    assert.equal(after?.version, before?.version, 'same content: no new version');
    assert.equal(after?.changedSeq, before?.changedSeq, 'nothing for peers to list');
    assert.equal(after?.seenMtimeMs, touched.changed[0]?.mtimeMs);
    const progress2: ScanProgress[] = [];
    const again = await scan(dir, { pool, cache: scanCacheOf(state.files, new Map()), onProgress: (p) => progress2.push(p) });
    assert.equal(hashed(progress2), 0, 'trusted by its stat');
    assert.deepEqual(again.changed, []);
    await rm(dir, { recursive: true, force: true });
  });

  it('reports a mode change without rehashing', async () => {
    const first = await scan(root, { pool });
    const run = first.entries.get(sp('run.sh'));
    assert.ok(run);
    const cache = new Map<string, CachedEntry>(first.entries);
    cache.set('run.sh', { ...run, mode: 6 });
    const second = await scan(root, { pool, cache });
    assert.deepEqual(second.changed.map((o) => [o.path, o.mode]), [['run.sh', 7]]);
  });

  it('reports paths the cache knew that are gone, children first, but not ignored ones', async () => {
    const first = await scan(root, { pool });
    const cache = new Map<string, CachedEntry>(first.entries);
    const file = { ...(first.entries.get(sp('empty')) as CachedEntry) };
    cache.set('gone', { ...file, type: 'directory' });
    cache.set('gone/child', file);
    cache.set('gone/child/grandchild', file);
    const r = await scan(root, { pool, cache });
    assert.deepEqual(r.deleted, ['gone/child/grandchild', 'gone/child', 'gone']);
    const changes = toLocalChanges(r);
    assert.deepEqual(changes.at(-1), { kind: 'scanFinished', files: r.files, bytes: r.bytes });
  });

  it('rescans one subtree and only reports deletions under it', async () => {
    const first = await scan(root, { pool });
    const cache = new Map<string, CachedEntry>(first.entries);
    const file = first.entries.get(sp('empty')) as CachedEntry;
    cache.set('a/b/old', file);
    cache.set('elsewhere', file);
    await writeFile(path.join(root, 'a/b/new.txt'), 'new');
    const r = await scan(root, { pool, cache, under: sp('a/b') });
    assert.deepEqual(r.changed.map((o) => o.path), ['a/b/new.txt']);
    assert.deepEqual(r.deleted, ['a/b/old']);
  });

  it('reports progress until every file is hashed', async () => {
    const events: ScanProgress[] = [];
    await scan(root, { pool, onProgress: (p) => events.push(p) });
    const last = events.at(-1);
    assert.equal(last?.phase, 'done');
    assert.equal(last?.filesHashed, last?.filesToHash);
    assert.equal(last?.bytesHashed, last?.bytesToHash);
    assert.ok((last?.bytesToHash ?? 0) >= big.length);
  });

  it('keeps one of two names that are the same after NFC normalisation, and says why', async () => {
    const dir = await tempDir('twins');
    await writeFile(path.join(dir, 'caf\u00e9'), 'composed');
    await writeFile(path.join(dir, 'cafe\u0301'), 'decomposed');
    const r = await scan(dir);
    assert.deepEqual(r.changed.map((o) => o.path), ['caf\u00e9']);
    assert.equal(r.skipped.length, 1);
    assert.match(r.skipped[0]?.reason ?? '', /same NFC form/);
  });

  it('rescans a path under a directory that became a symlink as gone', async () => {
    const dir = await tempDir('swapped');
    await mkdir(path.join(dir, 'd'));
    await writeFile(path.join(dir, 'd/f.txt'), 'f');
    const first = await scan(dir);
    const outside = await tempDir('swapped-out');
    await writeFile(path.join(outside, 'f.txt'), 'outside');
    await rm(path.join(dir, 'd'), { recursive: true });
    await symlink(outside, path.join(dir, 'd'));
    const r = await scan(dir, { cache: first.entries, under: sp('d/f.txt') });
    assert.deepEqual(r.changed, []);
    assert.deepEqual(r.deleted, ['d/f.txt']);
  });

  it('observes one path: a file hashed, a missing one as null', async () => {
    const e = await observe(sp('big.bin'), path.join(root, 'big.bin'), pool);
    assert.deepEqual(e?.blocks, independentBlocks(big).blocks);
    assert.equal(await observe(sp('nope'), path.join(root, 'nope')), null);
  });
});
