import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { State } from '../../../src/projections/state.js';
import { TestNet, blocksOf, bytes, p, testIds, type TestNode, A, B, C, pairApart } from './harness.js';


/** What a peer lists, as the simulator compares it: copy, path, winner's and loser's vectors. */
const listed = (s: State): string[] =>
  [...s.conflicts.values()].map((c) => `${c.copyPath} <- ${c.path} winner ${JSON.stringify(c.winner.vv)} loser ${JSON.stringify(c.loser.vv)}`).sort();

/** A and B edit f.txt while apart and meet again; C hears of everything only through B, later. */
function conflictSeenLate() {
  const net = new TestNet(3);
  const a = net.add(A, { create: true });
  const b = net.add(B);
  const c = net.add(C);
  net.connect(a, b);
  a.write('f.txt', 'base');
  net.run();
  net.cut(a.id, b.id);
  a.write('f.txt', 'edit by a');
  net.nowMs += 1000;
  b.write('f.txt', 'edit by b');
  net.connect(a, b);
  net.run();
  net.advance(30_000);
  net.connect(b, c);
  net.run();
  net.advance(30_000);
  return { net, a, b, c };
}

function sameLists(peers: readonly TestNode[]): void {
  for (const peer of peers.slice(1)) {
    assert.deepEqual(peer.tree(), peers[0]?.tree());
    assert.deepEqual(listed(peer.state), listed(peers[0]?.state as State), `${peer.id.slice(0, 1)} lists what ${peers[0]?.id.slice(0, 1)} lists`);
  }
}

describe('engine: the conflict list is the same on every peer whose files agree', () => {
  it('a peer that only received the copy lists the conflict as the peers that decided it', () => {
    const { a, b, c } = conflictSeenLate();
    assert.equal(a.state.conflicts.size, 1);
    assert.ok(!c.log.some((e) => e.type === 'ConflictDetected' && e.data.from !== c.id), 'C never decided the conflict itself');
    sameLists([a, b, c]);
  });

  it('the winner listed follows the path when it is edited, then deleted', () => {
    const { net, a, b, c } = conflictSeenLate();
    c.write('f.txt', 'edit by c, after the conflict');
    net.run();
    net.advance(30_000);
    sameLists([a, b, c]);
    a.remove('f.txt');
    net.run();
    net.advance(30_000);
    assert.equal(a.state.conflicts.size, 1, 'the copy is still there, so the conflict is still open');
    assert.equal([...a.state.conflicts.values()][0]?.winner.deleted, true);
    sameLists([a, b, c]);
  });

  it('resolving removes the entry everywhere', () => {
    const { net, a, b, c } = conflictSeenLate();
    c.handle({ kind: 'command', command: { kind: 'resolve', path: 'f.txt' as never, keep: 'winner' } });
    assert.equal(c.state.conflicts.size, 0, 'at once on the peer that resolved');
    net.run();
    net.advance(30_000);
    for (const peer of [a, b, c]) assert.equal(peer.state.conflicts.size, 0);
    sameLists([a, b, c]);
  });
});

describe('engine: a copy nobody can send', () => {
  it('is given up, and the peer takes again what its neighbours hold at the copy path', () => {
    const { net, a, b } = pairApart(5);
    b.write('f.txt', 'edit by b');
    net.nowMs += 1000;
    a.write('f.txt', 'edit by a');
    net.connect(a, b);
    net.run();
    net.advance(30_000);
    const [copyPath, conflict] = [...a.state.conflicts.entries()][0] ?? [];
    assert.ok(copyPath !== undefined && conflict !== undefined);
    // A later loser of B's in the same second would take the same name; A hears of one whose
    // blocks nobody has any more (its holder moved on), and sets aside what it had there as older.
    const copy = a.state.files.get(copyPath)?.version;
    assert.ok(copy !== undefined);
    const gone = blocksOf(bytes('gone'));
    const later = { ...copy, size: 4, blocks: gone, vv: { ...copy.vv, [B]: (copy.vv[B] ?? 0) + 1 }, hlc: { ...copy.hlc, counter: copy.hlc.counter + 1 } };
    const cursor = a.state.peers.get(B)?.cursor ?? 0;
    a.handle({ kind: 'received', from: b.id, msg: { cmd: 'IHAVE', id: testIds(3).messageId(), files: [later], since: cursor, upTo: cursor } });
    assert.equal(a.state.transfers.get(copyPath)?.version.blocks[0], gone[0]);
    // B, meanwhile, deletes the copy it has: a tombstone concurrent with the version A is after.
    b.remove(copyPath);
    net.run();
    net.advance(120_000);
    assert.equal(a.state.transfers.has(copyPath), false, 'A gave up the version nobody can send');
    assert.deepEqual(a.tree(), b.tree());
    assert.equal(a.read(copyPath), undefined);
    sameLists([a, b]);
  });
});

describe('engine: a copy of our own loser whose local copy fails', () => {
  it('is given up instead of waiting forever for a peer that never had it', () => {
    const { net, a, b } = pairApart(7);
    // (Contents share no block, so nothing can be copied from another file.)
    a.write('f.txt', 'AAAAAAAA');
    net.nowMs += 1000;
    b.write('f.txt', 'BBBBBBBB');
    // A's user changes the file again; the watcher has not told the engine yet.
    a.disk.set('f.txt', { type: 'file', data: bytes('CCCCCCCC'), mode: 6 });
    net.connect(a, b);
    net.run();
    net.advance(60_000);
    assert.equal(a.state.transfers.size + b.state.transfers.size, 0, 'nothing is left waiting');
    assert.deepEqual(a.tree(), b.tree());
    assert.equal(a.read('f.txt'), 'CCCCCCCC', 'the latest edit wins');
    assert.ok(Object.values(a.tree()).includes('6:BBBBBBBB'), 'the edit it beat is kept');
    sameLists([a, b]);
  });
});

describe('engine: keeping our own loser when the disk is full for a moment', () => {
  it('holds the winner back and copies the loser once the disk has room', () => {
    const { net, a, b } = pairApart(9);
    a.write('f.txt', 'AAAAAAAA');
    net.nowMs += 1000;
    b.write('f.txt', 'BBBBBBBB');
    a.failCopies = 1;
    net.connect(a, b);
    net.run();
    net.advance(60_000);
    assert.equal(a.read('f.txt'), 'BBBBBBBB');
    assert.deepEqual(a.tree(), b.tree());
    assert.ok(Object.values(a.tree()).includes('6:AAAAAAAA'), `the loser is kept: ${JSON.stringify(a.tree())}`);
    // On A the loser was only ever at f.txt: its copy must be committed before the winner replaces it.
    const commits = a.ops.filter((op) => op.op === 'commitFile').map((op) => op.path);
    const copyAt = commits.findIndex((path) => path.includes('.ploppy-conflict-'));
    assert.ok(copyAt >= 0 && copyAt < commits.lastIndexOf(p('f.txt')), `commits in order: ${commits.join(', ')}`);
    sameLists([a, b]);
  });
});

describe('engine: a version we settled on that nobody can send', () => {
  it('is given up, and the peer goes back to what the others hold', () => {
    const { net, a, b } = pairApart(13);
    a.write('f.txt', 'AAAAAAAA');
    b.remove('f.txt');
    net.connect(a, b);
    net.run();
    net.advance(30_000);
    assert.equal(b.read('f.txt'), 'AAAAAAAA', 'modify beats delete');
    // A hears of a later edit of B's that B no longer has (B moved on from it): A settles on it,
    // with a counter of its own, which nothing B announces will ever supersede.
    const mine = a.state.files.get('f.txt')?.version;
    assert.ok(mine !== undefined);
    const ghost = { ...mine, size: 8, blocks: blocksOf(bytes('GGGGGGGG')), vv: { [B]: 9 }, hlc: { wallMs: net.nowMs, counter: 0 }, author: B as never };
    const cursor = a.state.peers.get(B)?.cursor ?? 0;
    a.handle({ kind: 'received', from: b.id, msg: { cmd: 'IHAVE', id: testIds(4).messageId(), files: [ghost], since: cursor, upTo: cursor } });
    assert.ok((a.state.transfers.get('f.txt')?.version.vv[A] ?? 0) > (mine.vv[A] ?? 0), 'A settled on it');
    net.run();
    net.advance(120_000);
    assert.equal(a.state.transfers.size, 0, 'A gave it up');
    assert.deepEqual(a.tree(), b.tree());
  });
});
