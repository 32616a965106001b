import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compare } from '../../../src/core/vv.js';
import { A, B, p, pair, testIds, type TestNode } from './harness.js';


function mkdir(node: TestNode, path: string): void {
  node.disk.set(path, { type: 'directory', mode: 7 });
  node.handle({
    kind: 'local',
    change: { kind: 'changed', observation: { path: p(path), type: 'directory', mode: 7, size: 0, mtimeMs: node.net.nowMs, blockSizeBytes: 4, blocks: [] } },
  });
}

/** A and B share d/x. */
function sharedDirectory() {
  const { net, a, b } = pair(11);
  mkdir(a, 'd');
  a.write('d/x', 'x');
  net.run();
  assert.equal(b.read('d/x'), 'x');
  return { net, a, b };
}

describe('engine: directories and what they hold', () => {
  it('a directory moved away is gone everywhere, even when its delete arrives before its entries\' deletes', () => {
    const { net, a, b } = sharedDirectory();
    // The scanner reports a moved tree parent first, so the directory's tombstone goes out first.
    a.disk.delete('d');
    a.disk.set('e', { type: 'directory', mode: 7 });
    a.handle({ kind: 'local', change: { kind: 'moved', from: p('d'), to: p('e') } });
    const x = a.disk.get('d/x');
    assert.ok(x !== undefined);
    a.disk.delete('d/x');
    a.disk.set('e/x', x);
    a.handle({ kind: 'local', change: { kind: 'moved', from: p('d/x'), to: p('e/x') } });
    net.run();
    net.advance(30_000);
    assert.deepEqual(b.tree(), a.tree());
    assert.deepEqual(Object.keys(a.tree()), ['e', 'e/x'], 'the old directory is not brought back');
    // Renaming the directory on B's disk would take d/x along behind the engine's back.
    assert.deepEqual(b.log.filter((e) => e.type === 'TransferFailed').map((e) => e.data), [], 'no op found the disk other than expected');
  });

  it('a directory deleted on one side outlives the delete when the other side put something new in it', () => {
    const { net, a, b } = sharedDirectory();
    net.cut(a.id, b.id);
    a.remove('d/x');
    a.remove('d');
    b.write('d/y', 'new on b');
    net.connect(a, b);
    net.run();
    net.advance(30_000);
    assert.deepEqual(a.tree(), b.tree());
    assert.equal(a.read('d/y'), 'new on b');
    assert.equal(a.read('d/x'), undefined, 'what the delete saw is gone');
  });

  it('a commit that lands after a local change overtook it is looked at again, so disk and index agree', () => {
    const { net, a, b } = sharedDirectory();
    b.disk.set('d', { type: 'directory', mode: 5 });
    b.handle({ kind: 'local', change: b.observe('d') });
    // A is told, and sets the mode (the harness does it at once; its outcome is still queued) ...
    while (!a.ops.some((op) => op.op === 'makeDirectory' && op.path === 'd') && net.step());
    // ... while, just before that landed, its user had set another mode, which A records after it.
    a.disk.set('d', { type: 'directory', mode: 3 });
    a.handle({ kind: 'local', change: a.observe('d') });
    a.disk.set('d', { type: 'directory', mode: 5 });
    net.run();
    net.advance(30_000);
    for (const node of [a, b]) assert.equal(node.state.files.get('d')?.version.mode, (node.disk.get('d') as { mode: number }).mode, `${node.id.slice(0, 1)}'s index says what its disk holds`);
    assert.deepEqual(a.tree(), b.tree());
  });
});

describe('engine: a file that lost to a directory still sheltering entries', () => {
  it('is not taken again when announced again while its conflict copy is still coming', () => {
    const { net, a, b } = sharedDirectory();
    b.strictTree = true;
    net.cut(a.id, b.id);
    b.write('d/y', 'new on b');
    // A never saw d/y: it removes d/x and puts a file where the directory was.
    a.remove('d/x');
    a.disk.delete('d');
    a.write('d', 'a file now');
    net.connect(a, b);
    // B takes A's file (its vector dominates the directory's), fails to replace the directory
    // holding d/y, and keeps the directory: A's file is to be kept as a conflict copy.
    while (!b.log.some((e) => e.type === 'ConflictDetected' && e.data.path === 'd') && net.step());
    const copy = b.log.find((e) => e.type === 'ConflictDetected' && e.data.path === 'd');
    assert.ok(copy?.type === 'ConflictDetected' && copy.data.rule === 'directory-beats-file', 'the directory won');
    assert.ok(b.state.transfers.has(copy.data.copyPath), 'the copy is still being fetched');
    const announce = [...a.sent].reverse().find((s) => s.to === b.id && s.msg.cmd === 'IHAVE' && s.msg.files.some((f) => f.path === 'd' && f.type === 'file'));
    assert.ok(announce !== undefined);
    // The same announcement again (a duplicate, or a LIST answer): the decision stands.
    const [ops, sent, logged] = [b.ops.length, b.sent.length, b.log.length];
    b.handle({ kind: 'received', from: a.id, msg: announce.msg });
    const decided = b.log.slice(logged).map((e) => e.type);
    assert.ok(!decided.includes('VersionAccepted'), `nothing is taken: ${decided.join(', ')}`);
    assert.deepEqual(b.ops.slice(ops), [], 'no fs op');
    assert.deepEqual(b.sent.slice(sent), [], 'nothing sent');
    net.run();
    net.advance(30_000);
    assert.deepEqual(a.tree(), b.tree());
    assert.equal(b.disk.get('d')?.type, 'directory');
    assert.equal(b.read('d/y'), 'new on b');
    assert.equal(b.read(copy.data.copyPath), 'a file now', 'the file is kept beside it');
  });
});

describe('engine: a directory replaced by a file while the other side edits inside it', () => {
  for (const seed of [1, 2, 3]) {
    it(`keeps the edit in the directory and the file as a conflict copy (seed ${seed})`, () => {
      const { net, a, b } = sharedDirectory();
      a.strictTree = true;
      b.strictTree = true;
      net.cut(a.id, b.id);
      a.remove('d/x');
      a.remove('d');
      a.write('d', 'a file now');
      net.nowMs += 1000;
      b.write('d/x', 'edited on b');
      net.order = seed === 1 ? 'fifo' : seed === 2 ? 'lifo' : 'shuffle';
      net.connect(a, b);
      net.run();
      net.advance(120_000);
      assert.deepEqual(a.tree(), b.tree());
      assert.equal(a.disk.get('d')?.type, 'directory');
      assert.equal(a.read('d/x'), 'edited on b', 'modify beats the delete the file implied');
      assert.ok(Object.entries(a.tree()).some(([path, v]) => path.startsWith('d.ploppy-conflict-') && v === '6:a file now'), 'the file is kept beside it');
    });
  }
});

describe('engine: a folder replaced by a file while a conflict copy is still to be placed in it', () => {
  it('brings the directory back, keeps the file as its conflict copy, and nothing waits for ever', () => {
    const { net, a, b } = sharedDirectory();
    a.strictTree = true;
    b.strictTree = true;
    net.cut(a.id, b.id);
    a.write('d/x', 'mine');
    net.nowMs += 1000;
    b.write('d/x', 'theirs');
    // B's edit reaches A (later, so it wins): A keeps its own as a copy inside d, made from its disk,
    // and the winner's commit waits for that copy.
    const theirs = b.state.files.get('d/x')?.version;
    assert.ok(theirs !== undefined);
    a.handle({ kind: 'received', from: b.id, msg: { cmd: 'IHAVE', id: testIds(5).messageId(), files: [theirs], upTo: 1 } });
    const conflict = a.log.find((e) => e.type === 'ConflictDetected' && e.data.path === 'd/x');
    assert.ok(conflict?.type === 'ConflictDetected' && conflict.data.winner.author === b.id);
    const copyPath = conflict.data.copyPath;
    assert.ok(a.state.transfers.has(copyPath), 'the copy is on its way');
    // Before the copy is placed, A's user moves the file out and replaces the folder by a file.
    a.rename('d/x', 'kept.txt');
    a.disk.delete('d');
    a.write('d', 'a file now');
    // B's author deletes its edit, so B holds nothing below d that would bring the directory back.
    b.remove('d/x');
    net.run();
    net.advance(30_000);
    const back = a.log.find((e) => e.type === 'ConflictDetected' && e.data.path === 'd');
    assert.ok(back?.type === 'ConflictDetected' && back.data.rule === 'directory-beats-file', 'A brought the directory back itself');
    assert.equal(a.disk.get('d')?.type, 'directory');
    assert.equal(a.read(copyPath), 'mine', 'the copy was placed');
    assert.equal(a.read(back.data.copyPath), 'a file now', 'the user\'s file is kept beside the directory');
    net.connect(a, b);
    net.run();
    net.advance(120_000);
    assert.deepEqual(a.tree(), b.tree());
    for (const node of [a, b]) assert.deepEqual([...node.state.transfers.keys()], [], `${node.id.slice(0, 1)} waits for nothing`);
    // So B's delete of its edit was committed on A too: A's index at d/x covers that edit.
    const atX = a.state.files.get('d/x')?.version;
    assert.ok(atX?.deleted === true && compare(theirs.vv, atX.vv) === 'before', 'A holds a delete that supersedes B\'s edit');
  });
});
