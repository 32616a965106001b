/**
 * The end-of-run checkers on small hand-made histories: each must accept what
 * is allowed and name what is not (a checker that cannot fail proves nothing).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BlockHash, PeerId } from '../../../src/core/ids.js';
import type { SyncPath } from '../../../src/core/path.js';
import { seededRng } from '../../../src/core/rng.js';
import type { EventId } from '../../../src/core/ids.js';
import type { EnvelopedEvent, Event } from '../../../src/events/types.js';
import type { FileVersion } from '../../../src/events/version.js';
import type { Engine } from '../../../src/engine/types.js';
import { evolve, initialState } from '../../../src/projections/state.js';
import { MemoryEventLog } from '../../../src/store/memory-event-log.js';
import { nodeHasher } from '../../../src/store/node-ports.js';
import {
  conflictFindings, convergenceProblems, emptyHistory, expectedWinner, historyOf, lostWrites, resurrections, vectorCollisions, type History,
} from '../../../src/sim/checkers.js';
import { seededIds } from '../../../src/sim/ids.js';
import { SimPeer } from '../../../src/sim/peer.js';

const A = 'aaaaaaaaaaaaaaaa' as PeerId;
const B = 'bbbbbbbbbbbbbbbb' as PeerId;
const hash = (c: string): BlockHash => c.repeat(64) as BlockHash;

function version(path: string, vv: Record<string, number>, o: Partial<FileVersion> = {}): FileVersion {
  return {
    path: path as SyncPath, type: 'file', mode: 6, size: 1, mtimeMs: 0, blockSizeBytes: 131072, blocks: [hash('1')],
    deleted: false, vv, hlc: { wallMs: 10, counter: 0 }, author: A, ...o,
  };
}

function peer(index: number, files: FileVersion[]): SimPeer {
  const p = new SimPeer(index, A, 'x:1', 0, seededIds(seededRng(index)), seededIds(seededRng(index + 9)), nodeHasher, new MemoryEventLog({ commit: 'manual' }), () => {});
  const state = initialState();
  for (const v of files) state.files.set(v.path, { version: v, changedSeq: 1 });
  const engine: Engine = { state, handle: () => [] };
  p.engine = engine;
  return p;
}

test('no lost write: a write must be current, superseded, or held by a conflict copy on disk', () => {
  const mine = version('f', { [A]: 1 });
  const theirs = version('f', { [B]: 1 }, { author: B, blocks: [hash('2')], hlc: { wallMs: 20, counter: 0 } });
  const h: History = { ...emptyHistory(), observed: [[0, mine]] };
  assert.deepEqual(lostWrites(h, peer(0, [version('f', { [A]: 2 })])), [], 'superseded by a later version');
  const lost = lostWrites(h, peer(0, [theirs]));
  assert.equal(lost.length, 1);
  assert.match(lost[0]?.message ?? '', /write of f .* is lost/);
  const copy = 'f.ploppy-conflict-x';
  const kept: History = { ...h, conflicts: [{ peer: 0, fromRemote: true, path: 'f', copyPath: copy, winner: theirs, loser: mine, rule: 'later-hlc' }] };
  const withoutCopy = peer(0, [theirs]);
  assert.equal(lostWrites(kept, withoutCopy).length, 1, 'a conflict record is not enough: the copy must be on disk');
  const withCopy = peer(0, [theirs]);
  withCopy.disk.put(copy, { type: 'file', data: new Uint8Array([1]), mode: 6, mtimeMs: 0 }, true);
  const held: History = { ...kept, conflicts: [{ ...kept.conflicts[0]!, loser: { ...mine, blocks: withCopy.disk.blockHashes(new Uint8Array([1])) } }] };
  assert.deepEqual(lostWrites({ ...held, observed: [[0, held.conflicts[0]!.loser]] }, withCopy), []);
});

test('no resurrection: a live final version older than a delete that followed it is caught', () => {
  const old = version('f', { [A]: 1 });
  const tomb = version('f', { [A]: 1, [B]: 1 }, { deleted: true, author: B });
  const h = emptyHistory();
  h.versions.set('f', new Map([['old', old], ['tomb', tomb]]));
  assert.equal(resurrections(h, peer(0, [old]))[0]?.invariant, 'no-resurrection');
  assert.deepEqual(resurrections(h, peer(0, [tomb])), []);
  const concurrent = version('f', { [A]: 2 });
  h.versions.set('f', new Map([['c', concurrent], ['tomb', tomb]]));
  assert.deepEqual(resurrections(h, peer(0, [concurrent])), [], 'a concurrent modify may beat the delete');
});

/** Fold `events` as peer `index`'s log into `h` (historyOf, after the real projections). */
function fold(h: History, index: number, self: PeerId, events: readonly Event[]): void {
  const s = initialState();
  s.meta.self = self;
  const note = historyOf(index, h);
  events.forEach((e, i) => {
    const enveloped = { ...e, seq: i + 1, id: `e${i}` as EventId, hlc: { wallMs: 10, counter: i }, peer: self, v: 1 } as EnvelopedEvent;
    evolve(s, enveloped);
    note(enveloped, s);
  });
}

test('no resurrection: only versions some peer committed count, not a conflict winner abandoned before it landed', () => {
  // Seed 1094's shape: A's own file sits where B's loser was to be copied; A settles the clash in
  // favour of the copy (a vector above its file's), cannot fetch it (BLOCK_UNAVAILABLE), abandons
  // it, and the path keeps A's file. The settled winner was on no disk and was never announced.
  const copy = 'f.ploppy-conflict-x';
  const file = version(copy, { [A]: 1 });
  const settled = version(copy, { [A]: 2, [B]: 1 }, { author: B, blocks: [hash('2')], hlc: { wallMs: 20, counter: 0 } });
  const loser = version(copy, { [B]: 1 }, { author: B, blocks: [hash('2')], hlc: { wallMs: 20, counter: 0 } });
  const m = 'm1' as never;
  const h = emptyHistory();
  fold(h, 0, A, [
    { type: 'FileCommitted', data: { path: file.path, version: file } },
    { type: 'ConflictDetected', data: { path: file.path, winner: settled, loser: file, copyPath: `${copy}.ploppy-conflict-y` as SyncPath, rule: 'later-hlc', from: B } },
    { type: 'VersionAccepted', data: { path: file.path, version: settled, from: B, message: m } },
    { type: 'VersionSuperseded', data: { path: file.path, version: settled, from: A, message: m, reason: 'lost' } },
  ]);
  fold(h, 1, B, [{ type: 'FileCommitted', data: { path: file.path, version: loser } }]);
  assert.deepEqual(resurrections(h, peer(0, [file])), [], 'the abandoned winner never existed anywhere');
  // Had any peer committed it (and so announced it), keeping the older file would undo it.
  fold(h, 2, B, [{ type: 'FileCommitted', data: { path: file.path, version: settled } }]);
  assert.match(resurrections(h, peer(0, [file]))[0]?.message ?? '', /older than file vv=.*which existed/);
});

test('deterministic conflicts: the rule, the copy name, and one vector per content', () => {
  const early = version('f', { [A]: 1 }, { hlc: { wallMs: 10, counter: 0 } });
  const late = version('f', { [B]: 1 }, { author: B, blocks: [hash('2')], hlc: { wallMs: 20, counter: 0 } });
  assert.equal(expectedWinner(early, late), late);
  assert.equal(expectedWinner(late, { ...early, deleted: true }), late, 'modify beats delete');
  assert.equal(expectedWinner(late, { ...early, type: 'directory' }).type, 'directory', 'a directory beats a file');
  const merged = { ...late, vv: { [A]: 1, [B]: 1 } };
  const h = emptyHistory();
  h.conflicts.push({ peer: 0, fromRemote: true, path: 'f', copyPath: 'f.ploppy-conflict-20260101-000000-aaaaaaaa', winner: merged, loser: early, rule: 'later-hlc' });
  assert.deepEqual(conflictFindings(h), []);
  h.conflicts.push({ peer: 1, fromRemote: true, path: 'f', copyPath: 'f.ploppy-conflict-20260101-000001-aaaaaaaa', winner: merged, loser: early, rule: 'later-hlc' });
  assert.match(conflictFindings(h)[0]?.message ?? '', /same loser of f under different names/);
  const wrong = emptyHistory();
  wrong.conflicts.push({ peer: 0, fromRemote: true, path: 'f', copyPath: 'f.ploppy-conflict-20260101-000000-bbbbbbbb', winner: { ...early, vv: { [A]: 1, [B]: 1 } }, loser: late, rule: 'later-hlc' });
  assert.match(conflictFindings(wrong)[0]?.message ?? '', /the rule picks the other/);
  const collide = emptyHistory();
  collide.versions.set('f', new Map([['x', early], ['y', { ...early, blocks: [hash('3')] }]]));
  assert.equal(vectorCollisions(collide)[0]?.invariant, 'no-lost-write');
});

test('convergence: disks, each disk against its index, and conflict sets', () => {
  const v = version('f', { [A]: 1 }, { blocks: [] , size: 0 });
  const [p0, p1] = [peer(0, [v]), peer(1, [v])];
  for (const p of [p0, p1]) p.disk.put('f', { type: 'file', data: new Uint8Array(0), mode: 6, mtimeMs: 0 }, true);
  assert.deepEqual(convergenceProblems([p0, p1]), []);
  p1.disk.put('f', { type: 'file', data: new Uint8Array([7]), mode: 6, mtimeMs: 0 }, true);
  const problems = convergenceProblems([p0, p1]);
  assert.ok(problems.some((x) => /p1's disk and index differ/.test(x)));
  assert.ok(problems.some((x) => /p0 and p1 have different trees/.test(x)));
});
