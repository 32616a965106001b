/**
 * The checkers bite: each planted bug (src/sim/bugs.ts) must break an
 * invariant it threatens, on some seed whose clean run keeps that invariant,
 * within 1,000 seeds. (scripts/plant-bugs.ts prints the same hunt for people.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hunt } from '../../src/sim/bite.js';
import { simulate } from '../../src/sim/index.js';

test('every planted bug is caught within 1,000 seeds', async (t) => {
  const catches = await hunt(simulate, { seedsMax: 1000 });
  for (const c of catches) {
    assert.notEqual(c.seedsTried, null, `${c.bug} was not caught by any checker in 1,000 seeds`);
    t.diagnostic(`${c.bug}: caught after ${c.seedsTried} seed(s) by ${c.invariant} (${c.replay})`);
  }
});
