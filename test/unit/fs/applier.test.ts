import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { lstat, mkdir, readFile, readdir, readlink, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Applier } from '../../../src/fs/applier.js';
import { OpenTemps } from '../../../src/fs/applier-support.js';
import type { WriteListener, WriteOp } from '../../../src/fs/applier.js';
import { stagedTempPath, tempNameFor } from '../../../src/fs/disk.js';
import { stagingDirName } from '../../../src/core/constants.js';
import type { DiskEntry } from '../../../src/fs/disk.js';
import { IgnoreRules } from '../../../src/fs/ignore.js';
import { HashPool } from '../../../src/fs/hash-pool.js';
import { BlockPool } from '../../../src/fs/block-pool.js';
import { scan } from '../../../src/fs/scanner.js';
import type { FileVersion } from '../../../src/events/version.js';
import type { EffectResult } from '../../../src/engine/types.js';
import type { SyncPath } from '../../../src/core/path.js';
import { blockOf, dirVersion, fileVersion, independentBlocks, patternBytes, sp, symlinkVersion, tempDir } from './helpers.js';

/** The temp files beside the entries of `dir`, and in its staging directory when it has one. */
async function tempsIn(dir: string): Promise<string[]> {
  const beside = (await readdir(dir)).filter((n) => n.startsWith('.ploppy-tmp-') && n !== stagingDirName);
  const staged = await readdir(path.join(dir, stagingDirName)).catch((): string[] => []);
  return [...beside, ...staged];
}

/** Every block of `bytes` as writeBlock ops, last block first (order must not matter). */
function writeOps(p: string, bytes: Uint8Array, version: FileVersion): WriteOp[] {
  return version.blocks.map((hash, i) => ({ op: 'writeBlock' as const, path: sp(p), version, indices: [i], hash, data: blockOf(bytes, version, i) })).reverse();
}

async function put(applier: Applier, p: string, bytes: Uint8Array, extra: Partial<FileVersion> = {}, expect: FileVersion | null = null): Promise<FileVersion> {
  const version = fileVersion(p, bytes, extra);
  const results = await applier.applyAll([...writeOps(p, bytes, version), { op: 'commitFile', path: sp(p), version, expect }]);
  assert.deepEqual(results.filter((r) => !r.ok), []);
  return version;
}

function assertFailed(result: EffectResult | undefined, code: string, pattern?: RegExp): void {
  assert.ok(result !== undefined && !result.ok, `expected a failure, got ${JSON.stringify(result)}`);
  assert.equal(result.code, code, result.message);
  if (pattern !== undefined) assert.match(result.message, pattern);
}

describe('applier: files', () => {
  let root: string;
  let applier: Applier;
  let pool: HashPool;
  before(async () => {
    root = await tempDir('apply');
    pool = new HashPool(1);
    applier = await Applier.open(root, { pool });
  });
  after(async () => { await applier.close(); await pool.close(); });

  it('assembles blocks in a temp file, verifies, and renames into place with mode and mtime', async () => {
    const bytes = patternBytes(3 * 1024 * 1024 + 17, 5);
    const version = await put(applier, 'docs/report.bin', bytes, { mode: 7 });
    const target = path.join(root, 'docs/report.bin');
    assert.ok((await readFile(target)).equals(bytes));
    const st = await stat(target);
    assert.equal(st.mode & 0o777, 0o755, 'owner rwx; group and other r-x');
    assert.ok(Math.abs(st.mtimeMs - version.mtimeMs) < 0.01);
    assert.deepEqual(await tempsIn(path.join(root, 'docs')), []);
  });

  it('assembles files in the staging directory, so their own directory only sees the rename', async () => {
    const bytes = patternBytes(2 * 1024 * 1024 + 5, 8);
    const version = fileVersion('quiet/data.bin', bytes);
    assert.deepEqual(await applier.applyAll(writeOps('quiet/data.bin', bytes, version)), version.blocks.map(() => ({ ok: true })));
    await assert.rejects(lstat(path.join(root, 'quiet')), { code: 'ENOENT' }, 'nothing where the target goes while it is assembled');
    const staged = stagedTempPath(applier.root, 'quiet/data.bin', version);
    assert.equal((await stat(staged)).size, bytes.length);
    assert.deepEqual(await applier.applyAll([{ op: 'commitFile', path: sp('quiet/data.bin'), version, expect: null }]), [{ ok: true }]);
    assert.ok((await readFile(path.join(root, 'quiet/data.bin'))).equals(bytes));
    assert.deepEqual(await readdir(path.join(root, stagingDirName)), [], 'the temp file became the target');
    // Two files of one content at two paths, assembled side by side, never share a temp file.
    assert.notEqual(stagedTempPath(applier.root, 'x/same.txt', version), stagedTempPath(applier.root, 'y/same.txt', version));
  });

  it('assembles a file beside its target when the target is on another file system (a rename cannot cross)', async (t) => {
    const mountPoint = path.join(root, 'mounted');
    await mkdir(mountPoint);
    const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mountPoint]);
    if (mount.status !== 0) {
      t.skip(`cannot mount a tmpfs here: ${mount.stderr.toString().trim()}`);
      return;
    }
    try {
      const bytes = patternBytes(300_000, 9);
      const version = fileVersion('mounted/sub/file.bin', bytes);
      await applier.applyAll(writeOps('mounted/sub/file.bin', bytes, version));
      assert.deepEqual(await tempsIn(path.join(mountPoint, 'sub')), [tempNameFor('file.bin', version)]);
      assert.deepEqual(await applier.applyAll([{ op: 'commitFile', path: sp('mounted/sub/file.bin'), version, expect: null }]), [{ ok: true }]);
      assert.ok((await readFile(path.join(mountPoint, 'sub/file.bin'))).equals(bytes));
      assert.deepEqual(await tempsIn(path.join(mountPoint, 'sub')), []);
    } finally {
      await applier.close(); // no temp file may hold the mount busy
      spawnSync('umount', [mountPoint]);
    }
  });

  it('writes one block at several indices and copies blocks from local files', async () => {
    const block = patternBytes(131072, 21);
    const tail = Buffer.from('tail');
    const bytes = Buffer.concat([block, block, block, tail]);
    const version = fileVersion('dup.bin', bytes, { mode: 4 });
    assert.equal(version.blocks[0], version.blocks[2]);
    await writeFile(path.join(root, 'source.bin'), Buffer.concat([Buffer.from('xx'), tail]));
    const results = await applier.applyAll([
      { op: 'writeBlock', path: sp('dup.bin'), version, indices: [0, 2], hash: version.blocks[0]!, data: block },
      { op: 'copyBlock', path: sp('dup.bin'), version, indices: [1], hash: version.blocks[1]!, fromPath: sp('docs/report.bin'), fromOffset: 0, length: 131072 },
      { op: 'copyBlock', path: sp('dup.bin'), version, indices: [3], hash: version.blocks[3]!, fromPath: sp('source.bin'), fromOffset: 2, length: 4 },
      { op: 'commitFile', path: sp('dup.bin'), version, expect: null },
    ]);
    // block 1 copied from report.bin only works if its first block happens to equal `block`: it does not, so that copy must fail
    assertFailed(results[1], 'FS_ERROR', /changed on disk/);
    assertFailed(results[3], 'BLOCK_HASH_MISMATCH', /1 of 4 blocks/);
    const retry = await applier.applyAll([
      { op: 'writeBlock', path: sp('dup.bin'), version, indices: [1], hash: version.blocks[1]!, data: block },
      { op: 'commitFile', path: sp('dup.bin'), version, expect: null },
    ]);
    assert.deepEqual(retry, [{ ok: true }, { ok: true }]);
    assert.ok((await readFile(path.join(root, 'dup.bin'))).equals(bytes));
    assert.equal((await stat(path.join(root, 'dup.bin'))).mode & 0o777, 0o444);
  });

  it('never lets a block whose bytes do not match its hash reach disk', async () => {
    const bytes = patternBytes(200_000, 8);
    const version = fileVersion('guarded.bin', bytes);
    const corrupt = Buffer.from(blockOf(bytes, version, 0));
    corrupt[10] = (corrupt[10] ?? 0) ^ 0xff;
    const [bad] = await applier.applyAll([{ op: 'writeBlock', path: sp('guarded.bin'), version, indices: [0], hash: version.blocks[0]!, data: corrupt }]);
    assertFailed(bad, 'BLOCK_HASH_MISMATCH');
    assert.deepEqual(await tempsIn(root), [], 'not even a temp file');
    const [commit] = await applier.applyAll([{ op: 'commitFile', path: sp('guarded.bin'), version, expect: null }]);
    assertFailed(commit, 'FS_ERROR', /no temporary file/);
    await assert.rejects(lstat(path.join(root, 'guarded.bin')), { code: 'ENOENT' });
  });

  it('refuses to commit a temp file that is missing blocks, and keeps the target untouched', async () => {
    const old = await put(applier, 'partial.txt', Buffer.from('old content'));
    const bytes = patternBytes(300_000, 12);
    const version = fileVersion('partial.txt', bytes);
    const [w, c] = await applier.applyAll([
      { op: 'writeBlock', path: sp('partial.txt'), version, indices: [0], hash: version.blocks[0]!, data: blockOf(bytes, version, 0) },
      { op: 'commitFile', path: sp('partial.txt'), version, expect: old },
    ]);
    assert.deepEqual(w, { ok: true });
    assertFailed(c, 'BLOCK_HASH_MISMATCH');
    assert.equal(await readFile(path.join(root, 'partial.txt'), 'utf8'), 'old content');
  });

  it('empties a leftover temp file longer than the file, then commits once the blocks are written again', async () => {
    const bytes = Buffer.from('the real content');
    const version = fileVersion('leftover.txt', bytes);
    await mkdir(path.join(root, stagingDirName), { recursive: true });
    await writeFile(stagedTempPath(applier.root, 'leftover.txt', version), Buffer.concat([bytes, Buffer.from('junk from elsewhere')]));
    const [first] = await applier.applyAll([{ op: 'commitFile', path: sp('leftover.txt'), version, expect: null }]);
    assertFailed(first, 'BLOCK_HASH_MISMATCH', /longer/);
    await assert.rejects(lstat(path.join(root, 'leftover.txt')), { code: 'ENOENT' });
    const again = await applier.applyAll([
      { op: 'writeBlock', path: sp('leftover.txt'), version, indices: [0], hash: version.blocks[0]!, data: bytes },
      { op: 'commitFile', path: sp('leftover.txt'), version, expect: null },
    ]);
    assert.deepEqual(again, [{ ok: true }, { ok: true }]);
    assert.equal(await readFile(path.join(root, 'leftover.txt'), 'utf8'), 'the real content');
  });

  it('commits empty files', async () => {
    await put(applier, 'empty.txt', Buffer.alloc(0));
    assert.equal((await stat(path.join(root, 'empty.txt'))).size, 0);
  });

  it('replaces a file the engine knows, and treats a repeated commit as done', async () => {
    const v1 = await put(applier, 'edit.txt', Buffer.from('version one'));
    const bytes = Buffer.from('version two, longer');
    const v2 = await put(applier, 'edit.txt', bytes, { mtimeMs: 1_700_000_111_000 }, v1);
    assert.equal(await readFile(path.join(root, 'edit.txt'), 'utf8'), 'version two, longer');
    const [again] = await applier.applyAll([{ op: 'commitFile', path: sp('edit.txt'), version: v2, expect: v1 }]);
    assert.deepEqual(again, { ok: true });
  });

  it('serves blocks only while they still match', async () => {
    const bytes = patternBytes(150_000, 4);
    const version = await put(applier, 'served.bin', bytes);
    const ok = await applier.readBlock(sp('served.bin'), 131072, 150_000 - 131072, version.blocks[1]!);
    assert.ok(ok.ok && ok.data.equals(blockOf(bytes, version, 1)));
    const wrong = await applier.readBlock(sp('served.bin'), 0, 131072, version.blocks[1]!);
    assertFailed(wrong, 'FS_ERROR', /changed on disk/);
    const gone = await applier.readBlock(sp('nothing-here'), 0, 10, version.blocks[1]!);
    assertFailed(gone, 'FS_ERROR', /changed on disk/);
  });
});

describe('applier: a file rebuilt from its old version on block workers', () => {
  it('copies the unchanged blocks on workers, several at once, and fetches only the changed one', async () => {
    const root = await tempDir('rebuild');
    const blocks = new BlockPool(2);
    const applier = await Applier.open(root, { blocks });
    try {
      const old = Buffer.from(patternBytes(40 * 131072 + 999, 31));
      const oldVersion = await put(applier, 'big.bin', old);
      const edited = Buffer.from(old);
      edited.fill(7, 20 * 131072 + 100, 20 * 131072 + 4196);
      const version = fileVersion('big.bin', edited, { mtimeMs: 1_700_000_100_000 });
      assert.equal(version.blocks.filter((h, i) => h !== oldVersion.blocks[i]).length, 1);
      const ops: WriteOp[] = version.blocks.map((hash, i) => (hash === oldVersion.blocks[i]
        ? { op: 'copyBlock' as const, path: sp('big.bin'), version, indices: [i], hash, fromPath: sp('big.bin'), fromOffset: i * version.blockSizeBytes, length: blockOf(edited, version, i).length }
        : { op: 'writeBlock' as const, path: sp('big.bin'), version, indices: [i], hash, data: blockOf(edited, version, i) }));
      // One copy's source is not what it claims (the bytes at that offset hash otherwise): it fails alone.
      const wrong = ops[3] as Extract<WriteOp, { op: 'copyBlock' }>;
      ops[3] = { ...wrong, fromOffset: wrong.fromOffset + 1 };
      const results = await applier.applyAll([...ops, { op: 'commitFile', path: sp('big.bin'), version, expect: oldVersion }]);
      assertFailed(results[3], 'FS_ERROR', /changed on disk/);
      assert.deepEqual(results.slice(0, -1).filter((r) => !r.ok).length, 1);
      assertFailed(results.at(-1), 'BLOCK_HASH_MISMATCH', /1 of 41 blocks/);
      assert.ok((await readFile(path.join(root, 'big.bin'))).equals(old), 'the old file is untouched');
      const retry = await applier.applyAll([{ ...wrong }, { op: 'commitFile', path: sp('big.bin'), version, expect: oldVersion }]);
      assert.deepEqual(retry, [{ ok: true }, { ok: true }]);
      assert.ok((await readFile(path.join(root, 'big.bin'))).equals(edited));
    } finally {
      await applier.close();
      await blocks.close();
    }
  });
});

describe('applier: the staging directory', () => {
  it('is removed when the applier closes with nothing in it, and kept while it holds a transfer to resume', async () => {
    const root = await tempDir('staging');
    const staging = path.join(root, stagingDirName);
    let applier = await Applier.open(root);
    await put(applier, 'done.txt', Buffer.from('done'));
    await applier.close();
    await assert.rejects(lstat(staging), { code: 'ENOENT' });
    applier = await Applier.open(root);
    const bytes = Buffer.from('half');
    const v = fileVersion('half.txt', bytes);
    await applier.applyAll([{ op: 'writeBlock', path: sp('half.txt'), version: v, indices: [0], hash: v.blocks[0]!, data: bytes }]);
    await applier.close();
    assert.equal((await readdir(staging)).length, 1, 'the unfinished transfer stays for the next start');
  });
});

describe('applier: directories trusted while the folder is watched', () => {
  it('trusts a checked directory across batches until an event names it, then checks it again', async () => {
    const root = await tempDir('watched');
    const outside = await tempDir('watched-outside');
    const applier = await Applier.open(root, { watched: true });
    try {
      await put(applier, 'a/b/one.txt', Buffer.from('one'));
      // The user replaces a/b by a symlink to a directory outside the folder; the watcher reports a/b.
      await rm(path.join(root, 'a/b'), { recursive: true });
      await symlink(outside, path.join(root, 'a/b'));
      applier.entryChanged(path.join(applier.root, 'a/b'));
      const bytes = Buffer.from('two');
      const v = fileVersion('a/b/two.txt', bytes);
      const results = await applier.applyAll([
        { op: 'writeBlock', path: sp('a/b/two.txt'), version: v, indices: [0], hash: v.blocks[0]!, data: bytes },
        { op: 'commitFile', path: sp('a/b/two.txt'), version: v, expect: null },
      ]);
      for (const r of results) assertFailed(r, 'PATH_ESCAPES_FOLDER');
      assert.deepEqual(await readdir(outside), []);
      // An event naming a file (the applier's own renames, say) keeps the trust in its directory.
      await put(applier, 'c/d/three.txt', Buffer.from('three'));
      applier.entryChanged(path.join(applier.root, 'c/d/three.txt'));
      await put(applier, 'c/d/four.txt', Buffer.from('four'));
    } finally {
      await applier.close();
    }
  });
});

describe('applier: what a commit reads again', () => {
  it('counts verified blocks only for the content they were written for (a temp name holds 32 bits of it)', () => {
    const temps = new OpenTemps(4);
    const a = ['aa', 'bb', 'cc'];
    temps.written('/t', a, [0, 2], 10);
    temps.written('/t', [...a], [1], 5); // the same content, another array
    assert.equal(temps.takeVerified('/t', [...a]), 3);
    assert.equal(temps.takeVerified('/t', a), 0, 'forgotten once taken');
    temps.written('/t', a, [0, 1, 2], 15);
    temps.written('/t', ['aa', 'xx', 'cc'], [1], 5); // other content at the same temp path starts over
    assert.equal(temps.takeVerified('/t', a), 0);
  });

  it('trusts the blocks it hashed and wrote itself, and hashes every block of a temp file it did not write', async () => {
    const root = await tempDir('reverify');
    const pool = new HashPool(1);
    let hashed = 0;
    const counting = Object.assign(Object.create(pool) as HashPool, { hash: (native: string, size?: number) => { hashed++; return pool.hash(native, size); } });
    const bytes = patternBytes(3 * 1024 * 1024, 21); // over hashInThreadBytesMax: verified on the pool
    const version = fileVersion('big.bin', bytes);
    try {
      const first = await Applier.open(root, { pool: counting });
      await first.applyAll(writeOps('big.bin', bytes, version));
      assert.deepEqual(await first.applyAll([{ op: 'commitFile', path: sp('big.bin'), version, expect: null }]), [{ ok: true }]);
      assert.equal(hashed, 0, 'every block was hashed before this process wrote it');
      assert.ok((await readFile(path.join(root, 'big.bin'))).equals(bytes));

      // A temp file an earlier process wrote (this one holds no handle to it): a bad block in it is found.
      const next = fileVersion('other.bin', bytes.map((b) => b ^ 1));
      await first.applyAll(writeOps('other.bin', Buffer.from(bytes.map((b) => b ^ 1)), next));
      await first.close();
      const staged = stagedTempPath(first.root, 'other.bin', next);
      const corrupt = await readFile(staged);
      corrupt[5] = (corrupt[5] ?? 0) ^ 0xff;
      await writeFile(staged, corrupt);
      const second = await Applier.open(root, { pool: counting });
      assertFailed((await second.applyAll([{ op: 'commitFile', path: sp('other.bin'), version: next, expect: null }]))[0], 'BLOCK_HASH_MISMATCH', /other.bin: 1 of \d+ blocks do not match/);
      assert.equal(hashed, 1);
      await assert.rejects(lstat(path.join(root, 'other.bin')), { code: 'ENOENT' });
      await second.close();
    } finally {
      await pool.close();
    }
  });
});

describe('applier: batches', () => {
  it('keeps call order for operations fired without awaiting, and commits many files in one group', async () => {
    const root = await tempDir('batch');
    const applier = await Applier.open(root);
    try {
      const files = Array.from({ length: 40 }, (_, i) => ({ p: `many/f${i}.txt`, bytes: Buffer.from(`file number ${i}`) }));
      const pending: Promise<EffectResult>[] = [];
      for (const f of files) {
        const v = fileVersion(f.p, f.bytes);
        pending.push(applier.apply({ op: 'writeBlock', path: sp(f.p), version: v, indices: [0], hash: v.blocks[0]!, data: f.bytes }));
      }
      await writeFile(path.join(root, 'many-blocker.txt'), 'in the way');
      const blocked = fileVersion('many-blocker.txt', Buffer.from('x'));
      for (const f of files) pending.push(applier.apply({ op: 'commitFile', path: sp(f.p), version: fileVersion(f.p, f.bytes), expect: null }));
      pending.splice(60, 0, applier.apply({ op: 'commitFile', path: sp('many-blocker.txt'), version: blocked, expect: null }));
      const results = await Promise.all(pending);
      assertFailed(results[60], 'FS_ERROR', /no temporary file/);
      assert.deepEqual(results.filter((r) => !r.ok).length, 1, 'one bad commit does not sink its group');
      for (const f of files) assert.equal(await readFile(path.join(root, f.p), 'utf8'), f.bytes.toString());
      assert.equal(await readFile(path.join(root, 'many-blocker.txt'), 'utf8'), 'in the way');
    } finally {
      await applier.close();
    }
  });
});

describe('applier: block writes queued behind the network', () => {
  it('lets a directory and an unrelated commit go ahead of queued block writes, never a commit of the file being written', async () => {
    const root = await tempDir('ahead');
    const applier = await Applier.open(root);
    try {
      const done: string[] = [];
      const track = (label: string, p: Promise<EffectResult>): Promise<EffectResult> => p.then((r) => { done.push(label); return r; });
      const ready = Buffer.from('written earlier');
      const readyVersion = fileVersion('ready.txt', ready);
      await applier.apply({ op: 'writeBlock', path: sp('ready.txt'), version: readyVersion, indices: [0], hash: readyVersion.blocks[0]!, data: ready });
      const pending: Promise<EffectResult>[] = [];
      for (let i = 0; i < 600; i++) {
        const bytes = Buffer.from(`queued block ${i}`);
        const v = fileVersion(`queued/f${i}.txt`, bytes);
        pending.push(track(`write ${i}`, applier.apply({ op: 'writeBlock', path: sp(`queued/f${i}.txt`), version: v, indices: [0], hash: v.blocks[0]!, data: bytes })));
      }
      const last = Buffer.from('queued block 599');
      pending.push(track('directory', applier.apply({ op: 'makeDirectory', path: sp('elsewhere'), version: dirVersion('elsewhere'), expect: null })));
      pending.push(track('unrelated commit', applier.apply({ op: 'commitFile', path: sp('ready.txt'), version: readyVersion, expect: null })));
      pending.push(track('commit of a queued file', applier.apply({ op: 'commitFile', path: sp('queued/f599.txt'), version: fileVersion('queued/f599.txt', last), expect: null })));
      const results = await Promise.all(pending);
      assert.ok(results.every((r) => r.ok), JSON.stringify(results.filter((r) => !r.ok)));
      assert.ok(done.indexOf('directory') < done.indexOf('write 599'), 'the directory did not wait for every queued block');
      assert.ok(done.indexOf('unrelated commit') < done.indexOf('write 599'), 'the unrelated commit did not wait for every queued block');
      assert.ok(done.indexOf('commit of a queued file') > done.indexOf('write 599'), 'a commit never overtakes the writes of its own file');
      assert.equal(await readFile(path.join(root, 'queued/f599.txt'), 'utf8'), 'queued block 599');
      assert.equal(await readFile(path.join(root, 'ready.txt'), 'utf8'), 'written earlier');
    } finally {
      await applier.close();
    }
  });
});

describe('applier: never overwrite blind', () => {
  let root: string;
  let applier: Applier;
  before(async () => {
    root = await tempDir('blind');
    applier = await Applier.open(root);
  });
  after(async () => applier.close());

  it('refuses to replace a file edited since it was scanned', async () => {
    const v1 = await put(applier, 'note.txt', Buffer.from('from the peer'));
    await writeFile(path.join(root, 'note.txt'), 'user typed this');
    const bytes = Buffer.from('newer from the peer');
    const v2 = fileVersion('note.txt', bytes);
    const results = await applier.applyAll([...writeOps('note.txt', bytes, v2), { op: 'commitFile', path: sp('note.txt'), version: v2, expect: v1 }]);
    assertFailed(results.at(-1), 'FS_ERROR', /changed on disk/);
    assert.equal(await readFile(path.join(root, 'note.txt'), 'utf8'), 'user typed this');
  });

  it('refuses to create over a file it did not know about', async () => {
    await writeFile(path.join(root, 'surprise.txt'), 'local only');
    const bytes = Buffer.from('remote');
    const v = fileVersion('surprise.txt', bytes);
    const results = await applier.applyAll([...writeOps('surprise.txt', bytes, v), { op: 'commitFile', path: sp('surprise.txt'), version: v, expect: null }]);
    assertFailed(results.at(-1), 'FS_ERROR', /changed on disk/);
    assert.equal(await readFile(path.join(root, 'surprise.txt'), 'utf8'), 'local only');
  });

  it('accepts a file whose mtime changed but whose content did not (it hashes)', async () => {
    const v1 = await put(applier, 'touched.txt', Buffer.from('same bytes'));
    await utimes(path.join(root, 'touched.txt'), new Date(), new Date());
    const bytes = Buffer.from('replacement');
    const v2 = fileVersion('touched.txt', bytes);
    const results = await applier.applyAll([...writeOps('touched.txt', bytes, v2), { op: 'commitFile', path: sp('touched.txt'), version: v2, expect: v1 }]);
    assert.deepEqual(results.at(-1), { ok: true });
    assert.equal(await readFile(path.join(root, 'touched.txt'), 'utf8'), 'replacement');
  });

  it('refuses to remove or move a file that changed, and to move onto an existing file', async () => {
    const v1 = await put(applier, 'keep.txt', Buffer.from('one'));
    await writeFile(path.join(root, 'keep.txt'), 'two');
    const [rm] = await applier.applyAll([{ op: 'remove', path: sp('keep.txt'), version: { ...v1, deleted: true }, expect: v1 }]);
    assertFailed(rm, 'FS_ERROR', /changed on disk/);
    const [mv] = await applier.applyAll([{ op: 'move', from: sp('keep.txt'), to: sp('moved.txt'), version: { ...v1, path: sp('moved.txt') }, expect: v1 }]);
    assertFailed(mv, 'FS_ERROR', /changed on disk/);
    const a = await put(applier, 'a.txt', Buffer.from('a'));
    await writeFile(path.join(root, 'b.txt'), 'b');
    const [onto] = await applier.applyAll([{ op: 'move', from: sp('a.txt'), to: sp('b.txt'), version: { ...a, path: sp('b.txt') }, expect: a }]);
    assertFailed(onto, 'FS_ERROR', /already there/);
    assert.equal(await readFile(path.join(root, 'keep.txt'), 'utf8'), 'two');
    assert.equal(await readFile(path.join(root, 'b.txt'), 'utf8'), 'b');
  });
});

describe('applier: directories, symlinks, removal, moves', () => {
  let root: string;
  let applier: Applier;
  before(async () => {
    root = await tempDir('tree');
    applier = await Applier.open(root);
  });
  after(async () => applier.close());

  it('makes directories with their mode, idempotently', async () => {
    const v = dirVersion('d1/d2', { mode: 5 });
    assert.deepEqual(await applier.apply({ op: 'makeDirectory', path: sp('d1/d2'), version: v, expect: null }), { ok: true });
    assert.equal((await stat(path.join(root, 'd1/d2'))).mode & 0o777, 0o555);
    const v7 = dirVersion('d1/d2', { mode: 7 });
    assert.deepEqual(await applier.apply({ op: 'makeDirectory', path: sp('d1/d2'), version: v7, expect: v }), { ok: true });
    assert.equal((await stat(path.join(root, 'd1/d2'))).mode & 0o777, 0o755);
  });

  it('makes symlinks without following them, even to outside targets', async () => {
    const v = symlinkVersion('links/out', '/etc/passwd');
    assert.deepEqual(await applier.apply({ op: 'makeSymlink', path: sp('links/out'), version: v, expect: null }), { ok: true });
    assert.equal(await readlink(path.join(root, 'links/out')), '/etc/passwd');
    const v2 = symlinkVersion('links/out', 'elsewhere');
    assert.deepEqual(await applier.apply({ op: 'makeSymlink', path: sp('links/out'), version: v2, expect: v }), { ok: true });
    assert.equal(await readlink(path.join(root, 'links/out')), 'elsewhere');
    assert.deepEqual(await tempsIn(path.join(root, 'links')), []);
  });

  it('removes files and empty directories, and refuses a non-empty directory', async () => {
    const f = await put(applier, 'full/inner.txt', Buffer.from('x'));
    const d = dirVersion('full');
    const [refused] = await applier.applyAll([{ op: 'remove', path: sp('full'), version: { ...d, deleted: true }, expect: d }]);
    assertFailed(refused, 'DIR_NOT_EMPTY', /full/);
    const results = await applier.applyAll([
      { op: 'remove', path: sp('full/inner.txt'), version: { ...f, deleted: true }, expect: f },
      { op: 'remove', path: sp('full'), version: { ...d, deleted: true }, expect: d },
      { op: 'remove', path: sp('full'), version: { ...d, deleted: true }, expect: d },
    ]);
    assert.deepEqual(results, [{ ok: true }, { ok: true }, { ok: true }], 'removing what is gone is done');
    await assert.rejects(lstat(path.join(root, 'full')), { code: 'ENOENT' });
  });

  it('moves files and directories, and a move already done succeeds', async () => {
    const f = await put(applier, 'tree/leaf.txt', Buffer.from('leaf'));
    const d = dirVersion('tree');
    assert.deepEqual(await applier.apply({ op: 'move', from: sp('tree'), to: sp('renamed'), version: { ...d, path: sp('renamed') }, expect: d }), { ok: true });
    assert.equal(await readFile(path.join(root, 'renamed/leaf.txt'), 'utf8'), 'leaf');
    const child = await applier.apply({ op: 'move', from: sp('tree/leaf.txt'), to: sp('renamed/leaf.txt'), version: { ...f, path: sp('renamed/leaf.txt') }, expect: f });
    assert.deepEqual(child, { ok: true }, 'the child moved with its directory');
    const lost = await applier.apply({ op: 'move', from: sp('nowhere.txt'), to: sp('somewhere.txt'), version: { ...f, path: sp('somewhere.txt') }, expect: f });
    assertFailed(lost, 'FS_ERROR', /changed on disk/);
  });

  it('finds an NFD name on disk under its NFC sync path', async () => {
    await writeFile(path.join(root, 'cafe\u0301.txt'), 'decomposed');
    const r = await scan(root, { under: sp('caf\u00e9.txt') });
    const obs = r.changed[0];
    assert.equal(obs?.path, 'caf\u00e9.txt');
    const read = await applier.readBlock(sp('caf\u00e9.txt'), 0, obs?.size ?? 0, obs?.blocks[0] ?? ('' as never));
    assert.ok(read.ok && read.data.toString() === 'decomposed');
  });
});

describe('applier: the folder boundary', () => {
  let root: string;
  let outside: string;
  let applier: Applier;
  before(async () => {
    root = await tempDir('bound');
    outside = await tempDir('victim');
    await symlink(outside, path.join(root, 'escape'));
    await mkdir(path.join(root, 'real'));
    await symlink(outside, path.join(root, 'real/deeper'));
    applier = await Applier.open(root, { ignore: withRules('secret/\n') });
  });
  after(async () => applier.close());

  function withRules(text: string): IgnoreRules {
    const rules = new IgnoreRules();
    rules.setRules('', text);
    return rules;
  }

  const attempts: [string, string][] = [
    ['../outside.txt', 'a parent reference'],
    ['a/../../outside.txt', 'a parent reference inside'],
    ['/etc/ploppy-test', 'an absolute path'],
    ['escape/planted.txt', 'a symlinked directory'],
    ['real/deeper/planted.txt', 'a symlinked directory further down'],
  ];
  for (const [p, what] of attempts) {
    it(`refuses ${what}: ${p}`, async () => {
      const bytes = Buffer.from('payload');
      const v = fileVersion('x', bytes);
      const results = await applier.applyAll([
        { op: 'writeBlock', path: p as SyncPath, version: v, indices: [0], hash: v.blocks[0]!, data: bytes },
        { op: 'commitFile', path: p as SyncPath, version: v, expect: null },
        { op: 'makeDirectory', path: p as SyncPath, version: dirVersion('x'), expect: null },
      ]);
      for (const r of results) assertFailed(r, 'PATH_ESCAPES_FOLDER');
      assert.deepEqual(await readdir(outside), []);
      const read = await applier.readBlock(p as SyncPath, 0, 7, v.blocks[0]!);
      assertFailed(read, 'PATH_ESCAPES_FOLDER');
    });
  }

  it('refuses ignored paths and temp-file names', async () => {
    const v = dirVersion('secret');
    assertFailed(await applier.apply({ op: 'makeDirectory', path: sp('secret'), version: v, expect: null }), 'PATH_IGNORED');
    assertFailed(await applier.apply({ op: 'makeDirectory', path: sp('.ploppy-tmp-00000000-x'), version: v, expect: null }), 'PATH_IGNORED');
  });
});

describe('applier: housekeeping and listeners', () => {
  it('removes stale temp files everywhere, but not look-alikes or kept ones', async () => {
    const root = await tempDir('stale');
    await mkdir(path.join(root, 'a/b'), { recursive: true });
    await writeFile(path.join(root, '.ploppy-tmp-0123abcd-one'), '1');
    await writeFile(path.join(root, 'a/b/.ploppy-tmp-89abcdef-two'), '2');
    await writeFile(path.join(root, 'a/.ploppy-tmp-fedcba98-kept'), '3');
    await writeFile(path.join(root, 'a/.ploppy-tmp-notours'), 'user file');
    const applier = await Applier.open(root);
    const removed = await applier.removeStaleTempFiles((native) => native.endsWith('-kept'));
    assert.equal(removed, 2);
    assert.deepEqual((await readdir(path.join(root, 'a'))).sort(), ['.ploppy-tmp-fedcba98-kept', '.ploppy-tmp-notours', 'b']);
    assert.deepEqual(await readdir(path.join(root, 'a/b')), []);
  });

  it('tells its listener what it is about to write and what it left', async () => {
    const root = await tempDir('listen');
    const heard: string[] = [];
    const left = new Map<string, DiskEntry | null | undefined>();
    const listener: WriteListener = {
      writeStarted: (p) => heard.push(`start ${p}`),
      writeFinished: (p, e) => { heard.push(`finish ${p}`); left.set(p, e); },
    };
    const applier = await Applier.open(root, { listener });
    const v = await put(applier, 'f.txt', Buffer.from('hello'));
    await applier.apply({ op: 'move', from: sp('f.txt'), to: sp('g.txt'), version: { ...v, path: sp('g.txt') }, expect: v });
    assert.deepEqual(heard, ['start f.txt', 'finish f.txt', 'start f.txt', 'start g.txt', 'finish f.txt', 'finish g.txt']);
    assert.equal(left.get('f.txt'), null);
    const g = left.get('g.txt');
    const st = await stat(path.join(root, 'g.txt'));
    assert.equal(g?.ino, st.ino);
    assert.deepEqual(g?.blocks, independentBlocks(Buffer.from('hello')).blocks);
  });
});

describe('applier: a full disk', () => {
  let mountPoint: string | null = null;
  before(async () => {
    const dir = await tempDir('tmpfs');
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'ignore' });
      mountPoint = dir;
    } catch {
      mountPoint = null;
    }
  });
  after(() => {
    if (mountPoint !== null) execFileSync('umount', [mountPoint], { stdio: 'ignore' });
  });

  it('maps ENOSPC to DISK_FULL, removes the temp file and leaves the target intact', async (t) => {
    if (mountPoint === null) {
      t.skip('cannot mount a 1 MiB tmpfs here (needs root); ENOSPC not exercised');
      return;
    }
    const applier = await Applier.open(mountPoint);
    try {
      const old = await put(applier, 'big.bin', Buffer.from('precious old content'));
      const bytes = patternBytes(3 * 1024 * 1024, 2);
      const v = fileVersion('big.bin', bytes);
      let full: EffectResult | undefined;
      for (const op of writeOps('big.bin', bytes, v).reverse()) {
        const r = await applier.apply(op);
        if (!r.ok) { full = r; break; }
      }
      assertFailed(full, 'DISK_FULL', /temporary file was removed/);
      assert.deepEqual(await tempsIn(mountPoint), []);
      assert.equal(await readFile(path.join(mountPoint, 'big.bin'), 'utf8'), 'precious old content');
      const [commit] = await applier.applyAll([{ op: 'commitFile', path: sp('big.bin'), version: v, expect: old }]);
      assert.ok(!commit?.ok);
      assert.equal(await readFile(path.join(mountPoint, 'big.bin'), 'utf8'), 'precious old content');
    } finally {
      await applier.close();
    }
  });
});
