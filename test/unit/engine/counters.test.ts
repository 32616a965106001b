import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EventId, PeerId } from '../../../src/core/ids.js';
import { compare } from '../../../src/core/vv.js';
import type { EnvelopedEvent, Event } from '../../../src/events/types.js';
import { evolve, initialState } from '../../../src/projections/state.js';
import { A, B, p, pairApart } from './harness.js';


describe('engine: our counters are never reused', () => {
  it('a local edit made while a settled version is being fetched is not taken as older than it', () => {
    const { net, a, b } = pairApart();
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

describe('engine: a version we make never reuses a counter of ours seen at another path', () => {
  it('a copy carrying our counter from the path it came from does not lend it to the next version we make', () => {
    const s = initialState();
    let seq = 0;
    const hlc = { wallMs: 1_700_000_000_000, counter: 0 };
    const fold = (e: Event): void => void evolve(s, { ...e, seq: ++seq, id: `e${seq}` as EventId, hlc: { ...hlc, counter: seq }, peer: A as PeerId, v: 1 } as EnvelopedEvent);
    fold({ type: 'NetworkCreated', data: { networkId: 'n', name: 'n', peer: A as PeerId, dir: '/d' } });
    // A conflict copy of B's loser, whose vector holds our counter 7 from the original path.
    const copy = { path: p('f.ploppy-conflict-20231114-221320-bbbbbbbb.txt'), type: 'file', mode: 6, size: 0, mtimeMs: 0, blockSizeBytes: 4, blocks: [], deleted: false, vv: { [A]: 7, [B]: 3 }, hlc: { wallMs: 1_700_000_000_000, counter: 0 }, author: B as PeerId } as const;
    fold({ type: 'FileCommitted', data: { path: copy.path, version: copy } });
    fold({ type: 'LocalFileChanged', data: { path: p('new.txt'), type: 'file', mode: 6, size: 0, mtimeMs: 0, blockSizeBytes: 4, blocks: [] } });
    assert.deepEqual(s.files.get('new.txt')?.version.vv, { [A]: 8 });
    fold({ type: 'LocalFileDeleted', data: { path: copy.path } });
    assert.deepEqual(s.files.get(copy.path)?.version.vv, { [A]: 9, [B]: 3 });
  });
});
