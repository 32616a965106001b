/**
 * Time travel on engine-made histories: the state as of the head is the live
 * state (and so are `status` and `network` computed from it); as of any k it
 * is the store's own rebuild of the first k events; as of a time, the fold of
 * every event stamped at or before it. The history and k come from fast-check
 * (a failure prints the seed and the ops that replay it).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { directPeers, foldUntil } from '../../src/audit/index.js';
import type { RecordedEvent } from '../../src/events/types.js';
import { serialiseState } from '../../src/projections/snapshot.js';
import { evolveAll, initialState } from '../../src/projections/state.js';
import { networkView, statusView } from '../../src/projections/views.js';
import { MemoryEventLog } from '../../src/store/memory-event-log.js';
import { rebuild } from '../../src/store/replay.js';
import { historyArb, logsOf, play } from './audit-histories.js';

const runs = Number(process.env.AUDIT_PROPERTY_RUNS ?? 40);

async function storeOf(records: readonly RecordedEvent[]): Promise<MemoryEventLog> {
  const log = new MemoryEventLog();
  if (records.length > 0) await log.write(records, evolveAll(initialState(), records));
  return log;
}

describe('audit property: as-of', () => {
  it('status and network as of the head equal the live ones', async () => {
    await fc.assert(
      fc.asyncProperty(historyArb, async (ops) => {
        const h = play(ops);
        const logs = await logsOf(h);
        for (const [i, node] of h.nodes.entries()) {
          const records = logs[i] as RecordedEvent[];
          const live = node.state;
          const past = await foldUntil(records, { seq: records.length });
          assert.equal(serialiseState(past), serialiseState(live));
          assert.deepEqual(statusView(past, { all: true, connected: directPeers(past) }), statusView(live, { all: true, connected: directPeers(live) }));
          assert.deepEqual(networkView(past, 'here'), networkView(live, 'here'));
        }
      }),
      { numRuns: runs },
    );
  });

  it('as of k equals the store\'s rebuild of the first k events; as of a time, the events stamped up to it', async () => {
    await fc.assert(
      fc.asyncProperty(historyArb, fc.nat(), fc.nat(), fc.integer({ min: 0, max: 2 }), async (ops, kSeed, tSeed, peer) => {
        const records = (await logsOf(play(ops)))[peer] as RecordedEvent[];
        const k = kSeed % (records.length + 2);
        const log = await storeOf(records);
        const byStore = await rebuild(log, Math.min(k, records.length));
        assert.equal(serialiseState(await foldUntil(log.read(), { seq: k })), serialiseState(byStore));
        const t = (records[tSeed % records.length] as RecordedEvent).hlc.wallMs;
        const stamped = records.filter((e) => e.hlc.wallMs <= t);
        assert.deepEqual(stamped, records.slice(0, stamped.length), 'HLC stamps never go backwards in a log');
        assert.equal(serialiseState(await foldUntil(log.read(), { timeMs: t })), serialiseState(evolveAll(initialState(), stamped)));
      }),
      { numRuns: runs },
    );
  });
});
