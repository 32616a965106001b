/**
 * For any sequence of events, written batch by batch through the log (with
 * writes in flight, so group commit merges them), the projections persisted
 * alongside equal a rebuild from an empty state: byte-equal when serialised.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import type { StampedEvent } from '../../src/engine/types.js';
import type { RecordedEvent } from '../../src/events/types.js';
import { serialiseState } from '../../src/projections/snapshot.js';
import { evolve, initialState } from '../../src/projections/state.js';
import type { EventLog } from '../../src/store/event-log.js';
import { LevelEventLog } from '../../src/store/level-event-log.js';
import { MemoryEventLog } from '../../src/store/memory-event-log.js';
import { batchSizesArb, splitIntoBatches, stampedSequenceArb } from './arbitraries.js';

const root = mkdtempSync(join(tmpdir(), 'ploppy-prop-projections-'));
let databases = 0;

/** Write `events` in batches, awaiting only every `awaitEvery`-th write. Returns the incremental state. */
async function writeInBatches(log: EventLog, events: readonly StampedEvent[], sizes: readonly number[], awaitEvery: number) {
  const state = initialState();
  const pending: Promise<unknown>[] = [];
  splitIntoBatches(events, sizes).forEach((batch, i) => {
    for (const e of batch) evolve(state, e as unknown as RecordedEvent);
    pending.push(log.write(batch, state));
    if (i % awaitEvery === 0) pending.push(Promise.all(pending.splice(0)));
  });
  await Promise.all(pending);
  return state;
}

async function rebuild(log: EventLog) {
  const s = initialState();
  for await (const e of log.read()) evolve(s, e);
  return s;
}

const scenario = fc.tuple(stampedSequenceArb({ maxLength: 60 }), batchSizesArb, fc.integer({ min: 1, max: 4 }));

describe('incremental projections equal a rebuild', () => {
  after(() => rmSync(root, { recursive: true, force: true }));

  it('MemoryEventLog', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ([events, sizes, awaitEvery]) => {
        const log = new MemoryEventLog();
        const incremental = await writeInBatches(log, events, sizes, awaitEvery);
        await log.close();
        const reopened = new MemoryEventLog({ store: log.snapshotStore() });
        const loaded = await reopened.loadState();
        assert.equal(loaded.dirty.size, 0, 'the projections on disk were complete (no tail to fold)');
        assert.equal(serialiseState(loaded), serialiseState(incremental));
        assert.equal(serialiseState(await rebuild(reopened)), serialiseState(incremental));
      }),
      { numRuns: 150 },
    );
  });

  it('LevelEventLog', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ([events, sizes, awaitEvery]) => {
        const dir = join(root, `db-${databases++}`);
        const log = await LevelEventLog.open(dir);
        const incremental = await writeInBatches(log, events, sizes, awaitEvery);
        await log.close();
        const reopened = await LevelEventLog.open(dir);
        try {
          const loaded = await reopened.loadState();
          assert.equal(loaded.dirty.size, 0, 'the projections on disk were complete (no tail to fold)');
          assert.equal(serialiseState(loaded), serialiseState(incremental));
          assert.equal(serialiseState(await rebuild(reopened)), serialiseState(incremental));
        } finally {
          await reopened.close();
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 30 },
    );
  });
});
