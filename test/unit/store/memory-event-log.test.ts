/**
 * MemoryEventLog: the contract, plus its crash model (the simulator's disk):
 * only committed batches survive a crash, a batch is never half there, and a
 * failed commit stores nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPloppyError } from '../../../src/core/errors.js';
import type { RecordedEvent } from '../../../src/events/types.js';
import { serialiseState } from '../../../src/projections/snapshot.js';
import { evolve, initialState } from '../../../src/projections/state.js';
import { appendEvents } from '../../../src/store/append.js';
import { encodeHead } from '../../../src/store/encoding.js';
import { MemoryEventLog } from '../../../src/store/memory-event-log.js';
import { projectionCheckpointEvents } from '../../../src/store/writer.js';
import { eventLogContract } from './contract.js';
import { recorder, sampleEvents, type Recorder } from './fixtures.js';

eventLogContract<MemoryEventLog>({
  name: 'MemoryEventLog',
  create: async (options) => new MemoryEventLog(options),
  reopen: async (log, options) => {
    await log.close();
    return new MemoryEventLog({ ...options, store: log.snapshotStore() });
  },
  injectRecord: async (log, seq, value, options) => {
    await log.close();
    const store = log.snapshotStore();
    store.records[seq - 1] = value;
    store.head = encodeHead({ seq, hash: value.slice(0, 64) });
    return new MemoryEventLog({ ...options, store });
  },
  batches: (log) => log.batches,
  openIterators: (log) => log.openIterators,
  cleanup: async () => {},
});

const append = (log: MemoryEventLog, r: Recorder, count: number): Promise<readonly RecordedEvent[]> =>
  appendEvents(log, r.state, r.stamp(sampleEvents(log.head() + 1, count), log.head()));

async function seqs(log: MemoryEventLog): Promise<number[]> {
  const out: number[] = [];
  for await (const e of log.read()) out.push(e.seq);
  return out;
}

/** Resolves to 'pending' if `p` has not settled after a few turns of the event loop. */
async function settledState(p: Promise<unknown>): Promise<'resolved' | 'rejected' | 'pending'> {
  let state: 'resolved' | 'rejected' | 'pending' = 'pending';
  p.then(() => (state = 'resolved'), () => (state = 'rejected'));
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  return state;
}

describe('MemoryEventLog crash model', () => {
  it('auto mode: a write not yet committed is lost whole by a crash; committed ones survive', async () => {
    const log = new MemoryEventLog();
    const r = recorder();
    await append(log, r, 3);
    const lost = append(log, r, 4);
    assert.equal(log.head(), 7, 'head() counts the enqueued write');
    const restarted = log.crash();
    assert.equal(restarted.head(), 3);
    assert.deepEqual(await seqs(restarted), [1, 2, 3]);
    assert.equal(await settledState(lost), 'pending', 'a crashed process gets no answer');
    const loaded = await restarted.loadState();
    assert.equal(loaded.meta.head, 3);
    assert.equal((await restarted.verify()).ok, true);
  });

  it('manual mode: nothing is durable until flush(), which commits every pending write as one batch', async () => {
    const log = new MemoryEventLog({ commit: 'manual' });
    const r = recorder();
    const writes = [append(log, r, 2), append(log, r, 1), append(log, r, 3)];
    assert.equal(log.pendingEvents(), 6);
    assert.deepEqual(await seqs(log), [], 'reads see committed batches only');
    assert.equal(log.flush(), 6);
    assert.equal(log.batches, 1);
    assert.equal(log.pendingEvents(), 0);
    const recorded = (await Promise.all(writes)).flat();
    assert.deepEqual(recorded.map((e) => e.seq), [1, 2, 3, 4, 5, 6]);
    const restarted = log.crash();
    assert.deepEqual(await seqs(restarted), [1, 2, 3, 4, 5, 6]);
    assert.equal(serialiseState(await restarted.loadState()), serialiseState(r.state));
  });

  it('manual mode: a crash between write and flush loses the batch whole, projections included', async () => {
    const log = new MemoryEventLog({ commit: 'manual' });
    const r = recorder();
    const first = append(log, r, 2);
    log.flush();
    await first;
    const asOfFlush = serialiseState(r.state);
    void append(log, r, 3);
    void append(log, r, 2);
    const restarted = log.crash();
    assert.deepEqual(await seqs(restarted), [1, 2]);
    const loaded = await restarted.loadState();
    assert.equal(serialiseState(loaded), asOfFlush);
    assert.equal(restarted.head(), 2, 'the restarted writer continues from the durable head');
    const r2 = { ...r, state: loaded };
    void appendEvents(restarted, loaded, r2.stamp(sampleEvents(3, 1), 2));
    restarted.flush();
    assert.equal((await restarted.verify()).ok, true);
  });

  it('a failed commit stores nothing, rejects its writes and every later one', async () => {
    const log = new MemoryEventLog();
    const r = recorder();
    await append(log, r, 2);
    log.failNextCommit();
    const failed = append(log, r, 3);
    await assert.rejects(failed, (e: unknown) => isPloppyError(e, 'DISK_FULL'));
    await assert.rejects(append(log, r, 1), (e: unknown) => isPloppyError(e, 'DISK_FULL'));
    const restarted = log.crash();
    assert.deepEqual(await seqs(restarted), [1, 2]);
    const rebuilt = initialState();
    for await (const e of restarted.read()) evolve(rebuilt, e);
    assert.equal(serialiseState(await restarted.loadState()), serialiseState(rebuilt));
  });

  it('checkpoints projections every projectionCheckpointEvents events while busy; a crash before one folds the tail', async () => {
    const storedHead = (log: MemoryEventLog): number | undefined => {
      const m = log.snapshotStore().projections.get('m');
      return m === undefined ? undefined : (JSON.parse(m) as { head: number }).head;
    };
    const log = new MemoryEventLog({ commit: 'manual' });
    const r = recorder();
    void append(log, r, 10);
    log.flush();
    assert.equal(storedHead(log), undefined, 'no checkpoint yet: manual mode checkpoints by count');
    const early = log.crash();
    assert.equal(serialiseState(await early.loadState()), serialiseState(r.state), 'the cold start folded the whole log');

    const busy = new MemoryEventLog({ commit: 'manual' });
    const b = recorder();
    while (busy.head() < projectionCheckpointEvents) {
      void append(busy, b, 1000);
      busy.flush();
    }
    const checkpointed = storedHead(busy) as number;
    assert.ok(checkpointed >= projectionCheckpointEvents && checkpointed === busy.head(), `checkpoint at ${checkpointed}`);
    void append(busy, b, 5);
    busy.flush();
    assert.equal(storedHead(busy), checkpointed, 'no checkpoint for a few events');
    const crashed = busy.crash();
    const loaded = await crashed.loadState();
    assert.equal(serialiseState(loaded), serialiseState(b.state), 'checkpoint plus tail is the fold');
    // The keys the tail dirtied ride with the next write into the next checkpoint (here: a clean close).
    void appendEvents(crashed, loaded, b.stamp(sampleEvents(crashed.head() + 1, 1), crashed.head()));
    await crashed.close();
    assert.equal(storedHead(crashed), crashed.head(), 'a clean close writes the checkpoint');
    const reopened = new MemoryEventLog({ store: crashed.snapshotStore() });
    const rebuilt = initialState();
    for await (const e of reopened.read()) evolve(rebuilt, e);
    assert.equal(serialiseState(await reopened.loadState()), serialiseState(rebuilt));
  });

  it('auto mode: a write to an idle log carries its projections', async () => {
    const log = new MemoryEventLog();
    const r = recorder();
    await append(log, r, 3);
    await append(log, r, 2);
    const m = log.snapshotStore().projections.get('m');
    assert.equal((JSON.parse(m as string) as { head: number }).head, 5);
  });

  it('close() commits what is pending in manual mode', async () => {
    const log = new MemoryEventLog({ commit: 'manual' });
    const r = recorder();
    const w = append(log, r, 2);
    await log.close();
    assert.equal((await w).length, 2);
    assert.deepEqual(await seqs(new MemoryEventLog({ store: log.snapshotStore() })), [1, 2]);
  });
});
