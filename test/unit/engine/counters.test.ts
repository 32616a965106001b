import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compare } from '../../../src/core/vv.js';
import { TestNet } from './harness.js';

const A = 'aaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbb';

describe('engine: our counters are never reused', () => {
  it('a local edit made while a settled version is being fetched is not taken as older than it', () => {
    const net = new TestNet();
    const a = net.add(A, { create: true });
    const b = net.add(B);
    net.connect(a, b);
    a.write('f.txt', 'base');
    net.run();
    net.cut(a.id, b.id);
    a.write('f.txt', 'first edit by a');
    net.nowMs += 1000;
    b.write('f.txt', 'edit by b');
    net.connect(a, b);
    // B's later edit wins on A: A settles it (its own counter goes into the target) and starts fetching.
    while (a.state.transfers.get('f.txt') === undefined && net.step());
    const target = a.state.transfers.get('f.txt')?.version;
    assert.ok(target !== undefined && (target.vv[A] ?? 0) > (a.state.files.get('f.txt')?.version.vv[A] ?? 0), 'the target carries a counter of ours the files entry lacks');
    net.nowMs += 1000;
    a.write('f.txt', 'second edit by a');
    const local = a.state.files.get('f.txt')?.version;
    assert.ok(local !== undefined);
    assert.equal(compare(local.vv, target.vv), 'concurrent', 'the new edit has not seen what is being fetched');
    net.run();
    net.advance(30_000);
    assert.deepEqual(a.tree(), b.tree());
    assert.equal(a.read('f.txt'), 'second edit by a', 'the latest edit wins, on both peers');
    const kept = Object.entries(a.tree()).filter(([k]) => k.includes('.ploppy-conflict-')).map(([, v]) => v);
    assert.ok(kept.includes('6:edit by b') && kept.includes('6:first edit by a'), `both losers are kept: ${JSON.stringify(kept)}`);
  });
});
