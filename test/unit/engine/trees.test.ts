import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { A, B, p, pair, type TestNode } from './harness.js';


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
