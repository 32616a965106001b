import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRng } from '../../../src/core/rng.js';
import { isEventId, isMessageId, isPeerId } from '../../../src/core/ids.js';
import { seededIds, seededPeerId } from '../../../src/sim/ids.js';
import { deriveKnobs, describeKnobs, faultNames, parseFaults, replayCommand, topologies } from '../../../src/sim/knobs.js';
import { buildTopology, isConnected } from '../../../src/sim/topology.js';

test('one seed derives every knob, the same way every time', () => {
  for (let seed = 0; seed < 200; seed++) {
    const k = deriveKnobs(seed);
    assert.deepEqual(deriveKnobs(seed), k);
    assert.ok(k.peers >= 3 && k.peers <= 8, `peers ${k.peers}`);
    assert.ok(describeKnobs(k).startsWith(`SEED=${seed} `));
  }
  const kinds = new Set(Array.from({ length: 200 }, (_, s) => deriveKnobs(s).faults.join(',')));
  assert.ok(kinds.size > 50, 'swarm testing: seeds turn different faults on');
});

test('overriding a knob with what the seed chose changes nothing (the replay command is exact)', () => {
  for (let seed = 0; seed < 100; seed++) {
    const k = deriveKnobs(seed);
    assert.deepEqual(deriveKnobs(seed, { peers: k.peers, steps: k.steps, faults: k.faults, topology: k.topology }), k);
    const other = deriveKnobs(seed, { peers: 3, faults: [] });
    assert.deepEqual({ ...other, peers: k.peers, faults: k.faults }, k, 'other knobs stay put when one is overridden');
  }
  assert.match(replayCommand(deriveKnobs(7)), /^npx ploppy sim --seed 7 --peers \d+ --steps \d+ --topology \w+ --faults \S+$/);
});

test('fault lists parse, and unknown names are usage errors', () => {
  assert.deepEqual(parseFaults('none'), []);
  assert.deepEqual(parseFaults('all'), [...faultNames]);
  assert.deepEqual(parseFaults('drop, crash'), ['drop', 'crash']);
  assert.throws(() => parseFaults('drop,meteor'), /USAGE: unknown fault "meteor"/);
});

test('every topology connects every peer', () => {
  for (const kind of topologies) {
    for (let n = 2; n <= 9; n++) {
      for (let s = 0; s < 10; s++) {
        const edges = buildTopology(kind, n, seededRng(s));
        assert.ok(isConnected(n, edges), `${kind} with ${n} peers (seed ${s})`);
        assert.ok(edges.every(([a, b]) => a < b && b < n));
      }
    }
  }
  assert.equal(buildTopology('line', 5, seededRng(1)).length, 4);
  assert.equal(buildTopology('full', 5, seededRng(1)).length, 10);
});

test('seeded ids are well formed and repeatable', () => {
  const a = seededIds(seededRng(3));
  const b = seededIds(seededRng(3));
  const e = a.eventId(Date.UTC(2026, 0, 1));
  assert.ok(isEventId(e), e);
  assert.equal(b.eventId(Date.UTC(2026, 0, 1)), e);
  assert.ok(isMessageId(a.messageId()));
  assert.ok(isPeerId(seededPeerId(seededRng(9))));
  assert.equal(parseInt(e.replace(/-/g, '').slice(0, 12), 16), Date.UTC(2026, 0, 1), 'v7 ids carry the time');
});
