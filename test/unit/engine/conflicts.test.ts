import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { conflictCopyPath, pickWinner } from '../../../src/engine/index.js';
import type { FileVersion } from '../../../src/events/version.js';
import { TestNet, p, type Order, A, B, C, pair, pairApart } from './harness.js';


/** A and B share f.txt, then edit it while apart, then meet again. */
function concurrentEdits(order: Order, seed: number, aFirst: boolean) {
  const { net, a, b } = pairApart(seed);
  net.run();
  const [first, second] = aFirst ? [a, b] : [b, a];
  first.write('f.txt', `edit by ${first.id.slice(0, 1)}`);
  net.advance(1000);
  second.write('f.txt', `edit by ${second.id.slice(0, 1)}`);
  net.order = order;
  net.connect(a, b);
  net.run();
  net.order = 'fifo';
  net.advance(30_000);
  return { net, a, b };
}

describe('engine: concurrent edits', () => {
  for (const order of ['fifo', 'lifo', 'shuffle'] as const) {
    for (const seed of [1, 2, 3]) {
      it(`same winner and same copy on both peers (${order}, seed ${seed})`, () => {
        const { a, b } = concurrentEdits(order, seed, true);
        // B edited later, so B's edit wins ('later-hlc'); A's edit is kept as a copy.
        assert.equal(a.read('f.txt'), 'edit by b');
        assert.deepEqual(a.tree(), b.tree());
        const copies = Object.keys(a.tree()).filter((k) => k.includes('.ploppy-conflict-'));
        assert.equal(copies.length, 1);
        const copy = copies[0] as string;
        assert.match(copy, /^f\.ploppy-conflict-\d{8}-\d{6}-aaaaaaaa\.txt$/);
        assert.equal(a.read(copy), 'edit by a');
        assert.deepEqual([...a.state.conflicts.keys()], [copy]);
        assert.deepEqual([...b.state.conflicts.keys()], [copy]);
        assert.equal(a.state.conflicts.get(copy)?.rule, 'later-hlc');
        // the merged winner dominates both, on both peers, with the same vector
        assert.deepEqual(a.state.files.get('f.txt')?.version.vv, b.state.files.get('f.txt')?.version.vv);
        assert.deepEqual(a.state.files.get(copy)?.version, b.state.files.get(copy)?.version);
        assert.equal(a.state.transfers.size + b.state.transfers.size, 0);
      });
    }
  }

  it('the earlier editor loses whichever side learns first', () => {
    const { a, b } = concurrentEdits('fifo', 1, false);
    assert.equal(b.read('f.txt'), 'edit by a');
    assert.deepEqual(a.tree(), b.tree());
  });

  it('a third peer that only hears of the outcome ends with the same tree', () => {
    const { net, a, b } = concurrentEdits('shuffle', 7, true);
    const c = net.add(C);
    net.connect(c, b);
    net.run();
    assert.deepEqual(c.tree(), a.tree());
    assert.deepEqual(c.tree(), b.tree());
  });

  it('identical concurrent edits merge silently', () => {
    const net = new TestNet();
    const a = net.add(A, { create: true });
    const b = net.add(B);
    a.write('same.txt', 'identical');
    b.write('same.txt', 'identical');
    net.connect(a, b);
    net.run();
    assert.deepEqual(a.tree(), b.tree());
    assert.equal(a.state.conflicts.size + b.state.conflicts.size, 0);
    assert.ok(a.log.some((e) => e.type === 'VersionsMerged'));
    assert.deepEqual(a.state.files.get('same.txt')?.version.vv, { [A]: 1, [B]: 1 });
    assert.deepEqual(b.state.files.get('same.txt')?.version.vv, { [A]: 1, [B]: 1 });
  });

  it('modify beats a concurrent delete, on both sides', () => {
    const { net, a, b } = pair();
    a.write('m.txt', 'original');
    net.run();
    net.cut(a.id, b.id);
    a.remove('m.txt');
    net.advance(1000);
    b.write('m.txt', 'modified');
    net.connect(a, b);
    net.run();
    assert.equal(a.read('m.txt'), 'modified');
    assert.deepEqual(a.tree(), b.tree());
    // a lost delete has nothing to keep: no copy, no conflict entry, and the vectors merged
    assert.equal(a.state.conflicts.size + b.state.conflicts.size, 0);
    assert.deepEqual(a.state.files.get('m.txt')?.version.vv, b.state.files.get('m.txt')?.version.vv);
    // the delete even came later in time, and still lost
    net.cut(a.id, b.id);
    b.remove('m.txt');
    net.advance(1000);
    a.write('m.txt', 'modified again');
    net.connect(a, b);
    net.run();
    assert.equal(b.read('m.txt'), 'modified again');
    assert.deepEqual(a.tree(), b.tree());
  });
});

describe('conflict rules', () => {
  const v = (over: Partial<FileVersion>): FileVersion => ({
    path: p('dir/report.final.txt'), type: 'file', mode: 6, size: 1, mtimeMs: 0, blockSizeBytes: 4, blocks: [], deleted: false,
    vv: { [A]: 1 }, hlc: { wallMs: 1_700_000_000_000, counter: 0 }, author: A as FileVersion['author'], ...over,
  });

  it('is symmetric', () => {
    const pairs: [FileVersion, FileVersion][] = [
      [v({}), v({ hlc: { wallMs: 1_700_000_000_001, counter: 0 }, author: B as FileVersion['author'] })],
      [v({}), v({ author: B as FileVersion['author'] })],
      [v({ deleted: true }), v({ author: B as FileVersion['author'] })],
      [v({ vv: { [A]: 2 } }), v({ vv: { [A]: 3 } })],
    ];
    for (const [x, y] of pairs) {
      const one = pickWinner(x, y);
      const two = pickWinner(y, x);
      assert.equal(one.winner, two.winner);
      assert.equal(one.rule, two.rule);
    }
    assert.equal(pickWinner(pairs[1]![0], pairs[1]![1]).rule, 'larger-peer-id');
    assert.equal(pickWinner(pairs[2]![0], pairs[2]![1]).rule, 'modify-beats-delete');
    const dir = v({ type: 'directory', hlc: { wallMs: 1, counter: 0 } });
    assert.equal(pickWinner(v({ author: B as FileVersion['author'] }), dir).winner, dir);
    assert.equal(pickWinner(dir, v({})).rule, 'directory-beats-file');
    assert.equal(pickWinner(pairs[1]![0], pairs[1]![1]).winner.author, B);
  });

  it('names the copy after the loser (UTC stamp, first 8 of its author), keeping the extension', () => {
    const loser = v({ hlc: { wallMs: Date.UTC(2024, 0, 2, 3, 4, 5), counter: 0 }, author: 'abcdef0123456789' as FileVersion['author'] });
    assert.equal(conflictCopyPath(p('dir/report.final.txt'), loser), 'dir/report.final.ploppy-conflict-20240102-030405-abcdef01.txt');
    assert.equal(conflictCopyPath(p('Makefile'), loser), 'Makefile.ploppy-conflict-20240102-030405-abcdef01');
    assert.equal(conflictCopyPath(p('.bashrc'), loser), '.bashrc.ploppy-conflict-20240102-030405-abcdef01');
    const long = conflictCopyPath(p(`${'x'.repeat(250)}.txt`), loser);
    assert.ok(long !== null && Buffer.byteLength(long) <= 255 && long.endsWith('-abcdef01.txt'));
  });
});
