/**
 * Replay until k equals the state after the first k events: reading a prefix
 * of the log and folding it gives exactly the fold of those events.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { RecordedEvent } from '../../src/events/types.js';
import { firstDifference, serialiseState } from '../../src/projections/snapshot.js';
import { evolve, evolveAll, initialState, type State } from '../../src/projections/state.js';
import { MemoryEventLog } from '../../src/store/memory-event-log.js';
import { replayReport, stateDigest } from '../../src/store/replay.js';
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

describe('replay against the stored state by digest', () => {
  it('gives equal digests exactly when firstDifference finds nothing, and names a tampered entry', async () => {
    await fc.assert(
      fc.asyncProperty(stampedSequenceArb({ maxLength: 40 }), fc.nat(), async (events, pick) => {
        const log = new MemoryEventLog();
        const state = initialState();
        if (events.length > 0) {
          evolveAll(state, events as unknown as RecordedEvent[]);
          await log.write(events, state);
        }
        const loaded = (): Promise<State> => log.loadState();
        const clean = await replayReport(log, loaded);
        assert.equal(clean.difference, null);
        assert.equal(clean.ok, true);
        assert.equal(stateDigest(await log.loadState()), stateDigest(state));
        // Tamper with one entry of the stored state (or its meta) and the report names it.
        const tampered = async (): Promise<State> => {
          const s = await log.loadState();
          const entries = [...s.files.keys()];
          const key = entries.length === 0 ? undefined : entries[pick % entries.length];
          if (key === undefined) s.meta = { ...s.meta, name: `${s.meta.name ?? ''}!` };
          else s.files.set(key, { ...(s.files.get(key) as object), changedSeq: -1 } as never);
          return s;
        };
        const t = await tampered();
        assert.notEqual(stateDigest(t), stateDigest(state));
        assert.notEqual(firstDifference(t, state), null);
        const report = await replayReport(log, tampered);
        assert.equal(report.ok, false);
        assert.match(report.difference ?? '', /differs/);
      }),
      { numRuns: 100 },
    );
  });
});
