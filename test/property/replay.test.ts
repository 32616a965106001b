/**
 * Replay until k equals the state after the first k events: reading a prefix
 * of the log and folding it gives exactly the fold of those events.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { RecordedEvent } from '../../src/events/types.js';
import { serialiseState } from '../../src/projections/snapshot.js';
import { evolve, evolveAll, initialState } from '../../src/projections/state.js';
import { MemoryEventLog } from '../../src/store/memory-event-log.js';
import { stampedSequenceArb } from './arbitraries.js';

describe('replay', () => {
  it('until k equals the fold of the first k events', async () => {
    await fc.assert(
      fc.asyncProperty(
        stampedSequenceArb({ maxLength: 50 }).chain((events) => fc.tuple(fc.constant(events), fc.integer({ min: 0, max: events.length }))),
        async ([events, k]) => {
          const log = new MemoryEventLog();
          const state = initialState();
          if (events.length > 0) {
            evolveAll(state, events as unknown as RecordedEvent[]);
            await log.write(events, state);
          }
          const replayed = initialState();
          for await (const e of log.read({ until: k })) evolve(replayed, e);
          const direct = evolveAll(initialState(), events.slice(0, k) as unknown as RecordedEvent[]);
          assert.equal(replayed.meta.head, k);
          assert.equal(serialiseState(replayed), serialiseState(direct));
        },
      ),
      { numRuns: 150 },
    );
  });
});
