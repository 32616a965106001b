import assert from 'node:assert/strict';
import { appendFile, chmod, mkdir, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { watchDebounceMaxMs, watchDebounceMs, watchRereadDelayMs } from '../../../src/core/constants.js';
import { ChokidarSource } from '../../../src/fs/chokidar-source.js';
import type { LocalChange } from '../../../src/engine/types.js';
import { Applier } from '../../../src/fs/applier.js';
import { scan } from '../../../src/fs/scanner.js';
import { Watcher } from '../../../src/fs/watcher.js';
import { blockOf, fileVersion, independentBlocks, patternBytes, sp, tempDir } from './helpers.js';

/** How long a test waits for an event before calling it missing (generous: the machine is shared). */
const eventDeadlineMs = 5_000;

/** Collects the watcher's reports and lets a test wait for one that matches. */
class Recorder {
  readonly changes: LocalChange[] = [];
  readonly rescans: string[] = [];
  private waiters: { match: (c: LocalChange) => boolean; resolve: (c: LocalChange) => void }[] = [];

  onChanges = (batch: LocalChange[]): void => {
    for (const c of batch) {
      this.changes.push(c);
      this.waiters = this.waiters.filter((w) => (w.match(c) ? (w.resolve(c), false) : true));
    }
  };

  onRescanNeeded = (why: string): void => { this.rescans.push(why); };

  next(match: (c: LocalChange) => boolean, what: string): Promise<LocalChange> {
    const already = this.changes.find(match);
    if (already !== undefined) return Promise.resolve(already);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} reported; saw ${JSON.stringify(this.changes)}`)), eventDeadlineMs);
      this.waiters.push({ match, resolve: (c) => { clearTimeout(timer); resolve(c); } });
    });
  }

  clear(): void {
    this.changes.length = 0;
  }
}

const changedAt = (p: string) => (c: LocalChange): boolean => c.kind === 'changed' && c.observation.path === p;
const deletedAt = (p: string) => (c: LocalChange): boolean => c.kind === 'deleted' && c.path === p;
const movedFromTo = (from: string, to: string) => (c: LocalChange): boolean => c.kind === 'moved' && c.from === from && c.to === to;

describe('watcher', () => {
  let root: string;
  let watcher: Watcher;
  const rec = new Recorder();

  before(async () => {
    root = await tempDir('watch');
    await mkdir(path.join(root, 'dir'));
    await writeFile(path.join(root, 'dir/inner.txt'), 'inner');
    await writeFile(path.join(root, 'existing.txt'), 'existing');
    await writeFile(path.join(root, '.ploppyignore'), '*.ignored\n');
    const initial = await scan(root);
    watcher = await Watcher.start(root, { ignore: initial.ignore, known: initial.entries, onChanges: rec.onChanges, onRescanNeeded: rec.onRescanNeeded });
  });
  after(async () => watcher.close());

  it('reports within well under a second by construction', () => {
    assert.ok(watchDebounceMs <= 100 && watchDebounceMaxMs < 1000);
  });

  it('reports a created file with its blocks', async () => {
    const bytes = patternBytes(200_000, 3);
    await writeFile(path.join(root, 'created.bin'), bytes);
    const c = await rec.next(changedAt('created.bin'), 'creation');
    assert.ok(c.kind === 'changed');
    assert.equal(c.observation.size, bytes.length);
    assert.deepEqual(c.observation.blocks, independentBlocks(bytes).blocks);
  });

  it('reports a modification and a mode change', async () => {
    await writeFile(path.join(root, 'existing.txt'), 'existing, edited');
    const c = await rec.next((x) => changedAt('existing.txt')(x) && x.kind === 'changed' && x.observation.size === 16, 'modification');
    assert.ok(c.kind === 'changed');
    await chmod(path.join(root, 'existing.txt'), 0o755);
    await rec.next((x) => changedAt('existing.txt')(x) && x.kind === 'changed' && x.observation.mode === 7, 'mode change');
  });

  it('reports a deletion', async () => {
    await writeFile(path.join(root, 'doomed.txt'), 'bye');
    await rec.next(changedAt('doomed.txt'), 'creation');
    await unlink(path.join(root, 'doomed.txt'));
    await rec.next(deletedAt('doomed.txt'), 'deletion');
  });

  it('reports a rename as a move, not a delete and a create', async () => {
    await writeFile(path.join(root, 'before.txt'), 'moving content');
    await rec.next(changedAt('before.txt'), 'creation');
    rec.clear();
    await rename(path.join(root, 'before.txt'), path.join(root, 'after.txt'));
    await rec.next(movedFromTo('before.txt', 'after.txt'), 'move');
    assert.ok(!rec.changes.some(deletedAt('before.txt')));
    assert.ok(!rec.changes.some(changedAt('after.txt')));
  });

  it('reports a directory rename as moves of the directory and its children, parents first', async () => {
    rec.clear();
    await rename(path.join(root, 'dir'), path.join(root, 'folder'));
    await rec.next(movedFromTo('dir/inner.txt', 'folder/inner.txt'), 'child move');
    const moves = rec.changes.filter((c) => c.kind === 'moved').map((c) => c.kind === 'moved' && c.to);
    assert.deepEqual(moves, ['folder', 'folder/inner.txt']);
  });

  it('reports a copy-then-delete of the same bytes as a move', async () => {
    const bytes = patternBytes(5000, 77);
    await writeFile(path.join(root, 'original.dat'), bytes);
    await rec.next(changedAt('original.dat'), 'creation');
    rec.clear();
    await writeFile(path.join(root, 'copy.dat'), bytes);
    await unlink(path.join(root, 'original.dat'));
    await rec.next(movedFromTo('original.dat', 'copy.dat'), 'content move');
  });

  it('coalesces a burst of writes to one file', async () => {
    rec.clear();
    for (let i = 0; i < 20; i++) await appendFile(path.join(root, 'burst.log'), `line ${i}\n`);
    await rec.next((c) => changedAt('burst.log')(c) && c.kind === 'changed' && c.observation.size === 150, 'final state');
    assert.ok(rec.changes.filter(changedAt('burst.log')).length < 20);
  });

  it('stays silent about ignored files and temp files', async () => {
    rec.clear();
    await writeFile(path.join(root, 'noise.ignored'), 'x');
    await writeFile(path.join(root, '.ploppy-tmp-0123abcd-x'), 'x');
    await writeFile(path.join(root, 'marker-1'), 'x');
    await rec.next(changedAt('marker-1'), 'marker');
    await watcher.settled();
    assert.deepEqual(rec.changes.map((c) => (c.kind === 'changed' ? c.observation.path : c.kind)), ['marker-1']);
  });

  it('does not report the applier\'s own writes', async () => {
    const applier = await Applier.open(root, { listener: watcher });
    try {
      rec.clear();
      const bytes = patternBytes(300_000, 5);
      const v = fileVersion('from-peer.bin', bytes);
      const ops = v.blocks.map((hash, i) => ({ op: 'writeBlock' as const, path: sp('from-peer.bin'), version: v, indices: [i], hash, data: blockOf(bytes, v, i) }));
      const results = await applier.applyAll([...ops, { op: 'commitFile', path: sp('from-peer.bin'), version: v, expect: null }]);
      assert.ok(results.every((r) => r.ok));
      await applier.apply({ op: 'move', from: sp('from-peer.bin'), to: sp('moved-by-peer.bin'), version: { ...v, path: sp('moved-by-peer.bin') }, expect: v });
      await writeFile(path.join(root, 'marker-2'), 'x');
      await rec.next(changedAt('marker-2'), 'marker');
      await watcher.settled();
      assert.deepEqual(rec.changes.map((c) => (c.kind === 'changed' ? c.observation.path : c.kind)), ['marker-2']);
    } finally {
      await applier.close();
    }
  });

  it('reports a local edit made right after the applier wrote the file', async () => {
    const applier = await Applier.open(root, { listener: watcher });
    try {
      const bytes = Buffer.from('peer wrote this');
      const v = fileVersion('shared.txt', bytes);
      await applier.applyAll([
        { op: 'writeBlock', path: sp('shared.txt'), version: v, indices: [0], hash: v.blocks[0]!, data: bytes },
        { op: 'commitFile', path: sp('shared.txt'), version: v, expect: null },
      ]);
      await writeFile(path.join(root, 'shared.txt'), 'user overwrote it');
      await rec.next((c) => changedAt('shared.txt')(c) && c.kind === 'changed' && c.observation.size === 17, 'local edit');
    } finally {
      await applier.close();
    }
  });

  it('asks for a rescan when the ignore rules change', async () => {
    await writeFile(path.join(root, '.ploppyignore'), '*.ignored\n*.tmp\n');
    await rec.next(changedAt('.ploppyignore'), 'rules file change');
    await watcher.settled();
    assert.ok(rec.rescans.some((r) => r.includes('.ploppyignore')));
  });

  it('never follows a directory that became a symlink to outside the folder', async () => {
    const outside = await tempDir('outside');
    await writeFile(path.join(outside, 'x.txt'), 'outside secret');
    await mkdir(path.join(root, 'swap'));
    await writeFile(path.join(root, 'swap/x.txt'), 'inside');
    await rec.next(changedAt('swap/x.txt'), 'creation');
    await watcher.settled();
    rec.clear();
    await rm(path.join(root, 'swap'), { recursive: true });
    await symlink(outside, path.join(root, 'swap'));
    await rec.next((c) => changedAt('swap')(c) && c.kind === 'changed' && c.observation.type === 'symlink', 'symlink');
    await rec.next(deletedAt('swap/x.txt'), 'deletion of the old child');
    await watcher.settled();
    assert.ok(!rec.changes.some(changedAt('swap/x.txt')), 'nothing read through the symlink');
  });

  it('reports the files of a directory that arrived already filled (moved in from outside)', async () => {
    const outside = await tempDir('watch-outside');
    await mkdir(path.join(outside, 'filled/sub'), { recursive: true });
    await writeFile(path.join(outside, 'filled/a.txt'), 'a');
    await writeFile(path.join(outside, 'filled/sub/b.txt'), 'b');
    await rename(path.join(outside, 'filled'), path.join(root, 'filled'));
    await rec.next(changedAt('filled/a.txt'), 'file of the moved-in directory');
    await rec.next(changedAt('filled/sub/b.txt'), 'file of its subdirectory');
    await writeFile(path.join(root, 'filled/sub/b.txt'), 'b, edited');
    await rec.next((x) => changedAt('filled/sub/b.txt')(x) && x.kind === 'changed' && x.observation.size === 9, 'edit inside it');
  });

  it('reports files made in new directories at once, before the directories are watched', async () => {
    // chokidar lists a new directory before it watches it: a file made in between is in neither.
    const made: string[] = [];
    for (let i = 0; i < 20; i++) {
      await mkdir(path.join(root, `fresh${i}/deep/er`), { recursive: true });
      await writeFile(path.join(root, `fresh${i}/deep/er/leaf.txt`), `leaf ${i}`);
      made.push(`fresh${i}/deep/er/leaf.txt`);
      if (i % 5 === 4) await new Promise((r) => setTimeout(r, 30));
    }
    for (const p of made) await rec.next(changedAt(p), `creation of ${p}`);
  });

  it('reports removal of a whole tree, children first', async () => {
    await mkdir(path.join(root, 'gone/sub'), { recursive: true });
    await writeFile(path.join(root, 'gone/sub/f.txt'), 'f');
    await rec.next(changedAt('gone/sub/f.txt'), 'creation');
    await watcher.settled();
    rec.clear();
    await rm(path.join(root, 'gone'), { recursive: true });
    await rec.next(deletedAt('gone'), 'tree deletion');
    await watcher.settled();
    const deleted = rec.changes.filter((c) => c.kind === 'deleted').map((c) => c.kind === 'deleted' && c.path);
    assert.deepEqual(deleted, ['gone/sub/f.txt', 'gone/sub', 'gone']);
  });
});

describe('chokidar source', () => {
  it('re-lists a directory once or twice for a burst of files, not once per file', async () => {
    const root = await tempDir('watch-rereads');
    await mkdir(path.join(root, 'busy'));
    const listed = new Map<string, number>();
    const paths: string[] = [];
    const source = new ChokidarSource(root, {
      onPath: (native) => paths.push(native),
      onListed: (native) => listed.set(native, (listed.get(native) ?? 0) + 1),
      onError: () => {},
      ignored: () => false,
      ignoredName: () => false,
    });
    await source.start();
    try {
      assert.equal(source.rereadsDeferred, true, 'chokidar 5 is shaped as deferRereads expects');
      for (let i = 0; i < 20; i++) {
        await writeFile(path.join(root, `busy/f${i}`), `${i}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      await new Promise((r) => setTimeout(r, watchRereadDelayMs * 2 + 500));
      for (let i = 0; i < 20; i++) assert.ok(paths.includes(path.join(root, `busy/f${i}`)), `the raw event for f${i} came through`);
      // Each re-read offers every file in the directory: re-read per event, that was up to 20 listings.
      const listings = Math.max(...[...listed.values()]);
      assert.ok(listings <= 2, `the first file was listed ${listings} times`);
    } finally {
      await source.close();
    }
  });
});
