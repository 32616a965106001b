import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { verifyDecisions } from '../../../src/engine/index.js';
import type { StampedEvent } from '../../../src/engine/types.js';
import { evolve, initialState } from '../../../src/projections/state.js';
import { serialiseState } from '../../../src/projections/snapshot.js';
import { TestNet, p, type Order, A, B, C } from './harness.js';


/** A - B - C in a line; A and C edit the same file while cut off, then reconnect. */
function conflictInALine(order: Order = 'fifo', seed = 1, duplicateEvery = 0) {
  const net = new TestNet(seed);
  const a = net.add(A, { create: true });
  const b = net.add(B);
  const c = net.add(C);
  net.order = order;
  net.duplicateEvery = duplicateEvery;
  net.connect(a, b);
  net.connect(b, c);
  a.write('doc.txt', 'version zero');
  a.write('other.txt', 'unrelated');
  net.run();
  net.cut(a.id, b.id);
  a.write('doc.txt', 'A says hello');
  net.advance(2000);
  c.write('doc.txt', 'C says goodbye');
  net.run();
  net.connect(a, b);
  net.run();
  net.advance(60_000);
  return { net, a, b, c, nodes: [a, b, c] };
}

describe('engine: resolve', () => {
  it('every peer sees the conflict; resolve --keep other propagates', () => {
    const { net, a, nodes } = conflictInALine();
    for (const n of nodes) {
      assert.equal(n.read('doc.txt'), 'C says goodbye');
      assert.equal(n.state.conflicts.size, 1);
    }
    const [copyPath] = [...a.state.conflicts.keys()];
    assert.ok(copyPath !== undefined && a.read(copyPath) === 'A says hello');
    a.handle({ kind: 'command', command: { kind: 'resolve', path: p('doc.txt'), keep: 'other' } });
    net.run();
    net.advance(10_000);
    for (const n of nodes) {
      assert.equal(n.read('doc.txt'), 'A says hello', `${n.id} has the loser restored`);
      assert.equal(n.read(copyPath), undefined, `${n.id} dropped the copy`);
      assert.equal(n.state.conflicts.size, 0, `${n.id} has no conflict left`);
      assert.deepEqual(n.tree(), a.tree());
    }
  });

  it('resolve --keep winner drops the copy everywhere; --keep both keeps it as an ordinary file', () => {
    for (const keep of ['winner', 'both'] as const) {
      const { net, c, nodes } = conflictInALine();
      const [copyPath] = [...c.state.conflicts.keys()];
      assert.ok(copyPath !== undefined);
      c.handle({ kind: 'command', command: { kind: 'resolve', path: p(copyPath), keep } });
      net.run();
      net.advance(10_000);
      for (const n of nodes) {
        assert.equal(n.read('doc.txt'), 'C says goodbye');
        assert.equal(n.read(copyPath), keep === 'both' ? 'A says hello' : undefined);
        assert.equal(n.state.conflicts.size, 0);
      }
      // a newcomer does not take the kept copy for an open conflict
      const d = net.add('dddddddddddddddd');
      net.connect(d, c);
      net.run();
      assert.deepEqual(d.tree(), c.tree());
      assert.equal(d.state.conflicts.size, 0);
    }
  });
});

describe('engine: duplicates and reordering', () => {
  it('duplicated and reordered messages end in the same trees and conflicts, and peers agree on versions', () => {
    const reference = conflictInALine('fifo', 1, 0);
    const expected = reference.a.tree();
    const versions = (n: (typeof reference.nodes)[number]) =>
      JSON.stringify([...n.state.files.entries()].map(([k, e]) => [k, e.version.vv, e.version.deleted]).sort());
    for (const [order, seed, dup] of [['shuffle', 3, 2], ['lifo', 4, 3], ['shuffle', 5, 1]] as const) {
      const run = conflictInALine(order, seed, dup);
      for (const n of run.nodes) {
        assert.deepEqual(n.tree(), expected, `${order}/${seed}/${dup}: ${n.id}`);
        // who settled the conflict (and so whose counter the winner carries) may differ between
        // runs, but within a run every peer ends with the very same versions
        assert.equal(versions(n), versions(run.a));
        assert.deepEqual([...n.state.conflicts.keys()], [...reference.a.state.conflicts.keys()]);
      }
    }
  });
});

describe('engine: replay and verifyDecisions', () => {
  it('folding the log from empty gives the engine\'s state', () => {
    const { nodes } = conflictInALine('shuffle', 9, 3);
    for (const n of nodes) {
      const rebuilt = initialState();
      for (const e of n.log) evolve(rebuilt, e);
      assert.equal(serialiseState(rebuilt), serialiseState(n.state));
    }
  });

  it('re-running the decisions over a recorded log agrees', () => {
    const { nodes } = conflictInALine('shuffle', 2, 2);
    for (const n of nodes) {
      const result = verifyDecisions(n.log);
      assert.equal(result.firstMismatch, null);
      assert.ok(result.ok);
      assert.ok(result.checked > 5, `checked ${result.checked}`);
    }
  });

  it('names the first tampered decision', () => {
    const { a } = conflictInALine();
    const log = a.log;
    const i = log.findIndex((e) => e.type === 'VersionAccepted');
    assert.ok(i > 0);
    const target = log[i] as StampedEvent<{ type: 'VersionAccepted'; data: never }>;
    const tampered = log.map((e, j) =>
      j === i && e.type === 'VersionAccepted' ? { ...e, data: { ...e.data, version: { ...e.data.version, mode: (e.data.version.mode + 1) % 8 } } } : e,
    );
    const result = verifyDecisions(tampered);
    assert.equal(result.ok, false);
    assert.equal(result.seq, target.seq);
    // a decision dropped from the log is noticed too
    const dropped = verifyDecisions(log.filter((_, j) => j !== i));
    assert.equal(dropped.ok, false);
    // reported where the log first differs from the re-run: the input (nothing recorded) or the decision now in its place
    assert.ok(dropped.seq !== null && dropped.seq >= target.seq - 1 && dropped.seq <= target.seq + 8, `seq ${dropped.seq}`);
    // and an invented one
    const invented = [...log.slice(0, i + 1), { ...target, seq: target.seq }, ...log.slice(i + 1)];
    assert.equal(verifyDecisions(invented).ok, false);
  });
});
