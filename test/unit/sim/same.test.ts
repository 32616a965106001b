/**
 * The structural comparisons that let the verdict skip serialising (sameValue,
 * sameProjections) must never call different things equal: whenever they say
 * "same", the canonical JSON is the same; key order and undefined properties
 * are the only differences they may ignore.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { canonicalJson } from '../../../src/core/json.js';
import type { PeerId } from '../../../src/core/ids.js';
import { sameValue } from '../../../src/engine/verify.js';
import { initialState } from '../../../src/projections/state.js';
import { firstDifference } from '../../../src/projections/snapshot.js';
import { sameProjections } from '../../../src/sim/checkers.js';

test('sameValue: equal iff the canonical JSON is equal (for JSON values)', () => {
  fc.assert(
    fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
      assert.equal(sameValue(a, b), canonicalJson(a) === canonicalJson(b));
      assert.equal(sameValue(a, structuredClone(a)), true);
    }),
    { numRuns: 2000 },
  );
});

test('sameValue ignores key order and undefined properties, and nothing else', () => {
  assert.equal(sameValue({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 }), true);
  assert.equal(sameValue({ a: 1, x: undefined }, { a: 1 }), true);
  assert.equal(sameValue({ a: 1 }, { a: 1, b: null }), false);
  assert.equal(sameValue([1, 2], [2, 1]), false);
  assert.equal(sameValue({ a: [1] }, { a: { 0: 1 } }), false);
  assert.equal(sameValue(new Map([['a', 1]]), new Map([['a', 2]])), false, 'a Map is left to the canonical comparison');
});

test('sameProjections says no whenever firstDifference names a difference', () => {
  const a = initialState();
  const b = initialState();
  assert.equal(sameProjections(a, b), true);
  assert.equal(firstDifference(a, b), null);
  const peer = { peer: 'aaaaaaaaaaaaaaaa' as PeerId, address: 'x:1', reachability: 'direct' as const, via: null, lastSeenMs: 1, cursor: 0 };
  a.peers.set(peer.peer, peer);
  assert.equal(sameProjections(a, b), false);
  b.peers.set(peer.peer, { ...peer, cursor: 1 });
  assert.equal(sameProjections(a, b), false);
  assert.notEqual(firstDifference(a, b), null);
  b.peers.set(peer.peer, { cursor: 0, via: null, lastSeenMs: 1, reachability: 'direct', address: 'x:1', peer: peer.peer });
  assert.equal(sameProjections(a, b), true, 'key order does not matter');
  b.meta.head = 5;
  assert.equal(sameProjections(a, b), false);
});
