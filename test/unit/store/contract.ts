/**
 * The EventLog contract: one suite every implementation runs (abstract-level's
 * approach). Each implementation supplies a harness that knows how to create,
 * reopen and tamper with its own store.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { AssertionError } from '../../../src/core/assert.js';
import { groupCommitEventsMax } from '../../../src/core/constants.js';
import { isPloppyError } from '../../../src/core/errors.js';
import type { UpcasterRegistry } from '../../../src/events/codec.js';
import { currentVersions, type RecordedEvent } from '../../../src/events/types.js';
import { serialiseState } from '../../../src/projections/snapshot.js';
import { evolve, initialState, type State } from '../../../src/projections/state.js';
import { appendEvents } from '../../../src/store/append.js';
import type { EventLog } from '../../../src/store/event-log.js';
import type { LogOptions } from '../../../src/store/log-common.js';
import { nodeHasher } from '../../../src/store/node-ports.js';
import { countingIds, hashOf, recorder, sampleEvents, self, type Recorder } from './fixtures.js';
import type { SyncPath } from '../../../src/core/path.js';
import type { LocalObservation } from '../../../src/events/types.js';

export interface LogHarness<L extends EventLog = EventLog> {
  readonly name: string;
  /** A fresh, empty log. */
  create(options?: LogOptions): Promise<L>;
  /** Close `log` and open its store again, as a restarted process would. */
  reopen(log: L, options?: LogOptions): Promise<L>;
  /** Close `log`, store `value` as record `seq` with the head record pointing at it, and reopen. */
  injectRecord(log: L, seq: number, value: string, options?: LogOptions): Promise<L>;
  /** Batches committed since this log object was opened. */
  batches(log: L): number;
  /** Iterators this log object has open right now. */
  openIterators(log: L): number;
  /** Remove whatever the harness created. */
  cleanup(): Promise<void>;
}

/** Append `count` sample events in one write; returns what the log recorded. */
async function appendSample(log: EventLog, r: Recorder, count: number): Promise<readonly RecordedEvent[]> {
  return appendEvents(log, r.state, r.stamp(sampleEvents(log.head() + 1, count), log.head()));
}

/** A scan's view of a one-block file whose content is `n`. */
const observation = (path: string, n: number): LocalObservation => ({
  path: path as SyncPath, type: 'file', mode: 6, size: n, mtimeMs: n, blockSizeBytes: 131072, blocks: [hashOf(n)],
});

async function readAll(log: EventLog, options = {}): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const e of log.read(options)) out.push(e);
  return out;
}

async function rebuild(log: EventLog): Promise<State> {
  const s = initialState();
  for await (const e of log.read()) evolve(s, e);
  return s;
}

/** A stored record written by some other build, with any type and schema version. */
function foreignRecord(seq: number, prev: string, type: string, v: number, data: unknown): string {
  const id = countingIds().eventId(1_700_000_000_000);
  const body = JSON.stringify({ seq, id, hlc: { wallMs: 1_700_000_000_000, counter: 0 }, peer: self, v, type, data, prev });
  return nodeHasher.sha256(body) + body;
}

export function eventLogContract<L extends EventLog>(h: LogHarness<L>): void {
  describe(`EventLog contract: ${h.name}`, () => {
    after(() => h.cleanup());

    it('starts empty', async () => {
      const log = await h.create();
      assert.equal(log.head(), 0);
      assert.deepEqual(await readAll(log), []);
      assert.deepEqual(await log.verify(), { ok: true, head: 0, headHash: '0'.repeat(64) });
      assert.equal(serialiseState(await log.loadState()), serialiseState(initialState()));
      await log.close();
    });

    it('reads back what it wrote, in sequence order, chained by hash', async () => {
      const log = await h.create();
      const r = recorder();
      const written = [...(await appendSample(log, r, 3)), ...(await appendSample(log, r, 4)), ...(await appendSample(log, r, 1))];
      assert.equal(log.head(), 8);
      const read = await readAll(log);
      assert.deepEqual(read, written);
      assert.deepEqual(read.map((e) => e.seq), [1, 2, 3, 4, 5, 6, 7, 8]);
      assert.equal(read[0]?.prev, '0'.repeat(64));
      for (let i = 1; i < read.length; i++) assert.equal(read[i]?.prev, read[i - 1]?.hash);
      await log.close();
    });

    it('refuses a gap, a repeat or an unfolded state as a bug, and stays usable', async () => {
      const log = await h.create();
      const r = recorder();
      await appendSample(log, r, 2);
      const next = r.stamp(sampleEvents(3, 2), 2);
      const gap = next.map((e) => ({ ...e, seq: e.seq + 1 }));
      assert.throws(() => log.write(gap, r.state), (e: unknown) => e instanceof AssertionError && /gaplessly/.test(e.message));
      const repeat = next.map((e) => ({ ...e, seq: e.seq - 1 }));
      assert.throws(() => log.write(repeat, r.state), (e: unknown) => e instanceof AssertionError && /gaplessly/.test(e.message));
      assert.throws(() => log.write(next, r.state), (e: unknown) => e instanceof AssertionError && /fold/.test(e.message));
      assert.throws(() => log.write([], r.state), AssertionError);
      assert.equal(log.head(), 2);
      await appendEvents(log, r.state, next);
      assert.deepEqual((await readAll(log)).map((e) => e.seq), [1, 2, 3, 4]);
      assert.equal((await log.verify()).ok, true);
      await log.close();
    });

    it('group-commits concurrent writes into fewer batches, in order, all durable', async () => {
      let log = await h.create();
      const r = recorder();
      const before = h.batches(log);
      const writes: Promise<readonly RecordedEvent[]>[] = [];
      for (let i = 0; i < 40; i++) writes.push(appendSample(log, r, 1 + (i % 3)));
      const results = await Promise.all(writes);
      const batches = h.batches(log) - before;
      assert.ok(batches >= 1 && batches < 40, `40 writes took ${batches} batches`);
      const flat = results.flat();
      assert.deepEqual(flat.map((e) => e.seq), Array.from({ length: flat.length }, (_, i) => i + 1));
      log = await h.reopen(log);
      assert.deepEqual(await readAll(log), flat);
      assert.equal(serialiseState(await log.loadState()), serialiseState(r.state));
      await log.close();
    });

    it('reads ranges, clipped to the head', async () => {
      const log = await h.create();
      const r = recorder();
      await appendSample(log, r, 10);
      const seqs = async (o: { from?: number; until?: number }) => (await readAll(log, o)).map((e) => e.seq);
      assert.deepEqual(await seqs({ from: 4, until: 6 }), [4, 5, 6]);
      assert.deepEqual(await seqs({ from: 9 }), [9, 10]);
      assert.deepEqual(await seqs({ until: 2 }), [1, 2]);
      assert.deepEqual(await seqs({ from: 10, until: 99 }), [10]);
      assert.deepEqual(await seqs({ from: 11 }), []);
      assert.deepEqual(await seqs({ from: 5, until: 4 }), []);
      assert.deepEqual(await seqs({ until: 0 }), []);
      await log.close();
    });

    it('closes iterators on early exit, break or throw', async () => {
      const log = await h.create();
      const r = recorder();
      await appendSample(log, r, 10);
      for await (const e of log.read()) {
        if (e.seq === 3) break;
      }
      assert.equal(h.openIterators(log), 0);
      await assert.rejects(async () => {
        for await (const e of log.read({ from: 2 })) if (e.seq === 4) throw new Error('consumer failed');
      }, /consumer failed/);
      assert.equal(h.openIterators(log), 0);
      const it = log.read()[Symbol.asyncIterator]();
      await it.next();
      assert.equal(h.openIterators(log), 1, 'an iterator in use is open');
      await it.return?.();
      assert.equal(h.openIterators(log), 0);
      await log.close();
    });

    it('persists projections with the events: a cold start equals the fold, and a rebuild', async () => {
      let log = await h.create();
      const r = recorder();
      for (let i = 0; i < 6; i++) await appendSample(log, r, 1 + i);
      log = await h.reopen(log);
      assert.equal(log.head(), 21);
      const loaded = await log.loadState();
      assert.equal(serialiseState(loaded), serialiseState(r.state));
      assert.equal(serialiseState(await rebuild(log)), serialiseState(r.state));
      assert.equal(loaded.dirty.size, 0, 'nothing to persist after a clean cold start');
      await log.close();
    });

    it('continues the chain after reopening', async () => {
      let log = await h.create();
      const r = recorder();
      await appendSample(log, r, 3);
      log = await h.reopen(log);
      const state = await log.loadState();
      const more = r.stamp(sampleEvents(4, 2), log.head());
      await appendEvents(log, state, more);
      const result = await log.verify();
      assert.equal(result.ok, true);
      assert.equal(result.ok && result.head, 5);
      await log.close();
    });

    it('keeps projections behind the log when the state has folded further (tail folded on load)', async () => {
      let log = await h.create();
      const r = recorder();
      await appendSample(log, r, 2);
      const first = r.stamp(sampleEvents(3, 2), 2);
      for (const e of first) evolve(r.state, e as unknown as RecordedEvent);
      const asOfFirst = serialiseState(r.state);
      const second = r.stamp(sampleEvents(5, 2), 4);
      for (const e of second) evolve(r.state, e as unknown as RecordedEvent);
      await log.write(first, r.state);
      log = await h.reopen(log);
      assert.equal(log.head(), 4);
      assert.equal(serialiseState(await log.loadState()), asOfFirst);
      await log.close();
    });

    it('keeps the newest projection entries when a batch waits behind a full one (a cold start equals the fold)', async () => {
      // W commits while X (full) and Y wait; Y takes a write before and after X leaves the queue.
      // Y's first capture must not overwrite its second in the checkpoint (bench/log found this).
      let log = await h.create();
      const r = recorder();
      // As this peer, so local changes count its own versions (meta.ownCounter): re-folding one is not a no-op.
      const created = { type: 'NetworkCreated', data: { networkId: 'n1', name: 'contract', peer: self, dir: '/share' } } as const;
      const w = appendEvents(log, r.state, r.stamp([created], log.head()));
      const x = appendSample(log, r, groupCommitEventsMax);
      const y1 = appendEvents(log, r.state, r.stamp([{ type: 'LocalFileChanged', data: observation('late/a.txt', 1) }], log.head()));
      await w;
      const y2 = appendEvents(log, r.state, r.stamp([{ type: 'LocalFileChanged', data: observation('late/a.txt', 2) }], log.head()));
      const y3 = appendEvents(log, r.state, r.stamp([{ type: 'LocalFileChanged', data: observation('late/b.txt', 3) }], log.head()));
      await Promise.all([x, y1, y2, y3]);
      log = await h.reopen(log);
      assert.equal(serialiseState(await log.loadState()), serialiseState(r.state));
      await log.close();
    });

    it('verifies and cold-starts consistently while writes are in flight', async () => {
      const log = await h.create();
      const r = recorder();
      await appendSample(log, r, 5);
      let writing = true;
      const writer = (async () => {
        while (writing) await appendSample(log, r, 3);
      })();
      try {
        for (let round = 0; round < 8; round++) {
          const [verdict, loaded] = await Promise.all([log.verify(), log.loadState()]);
          assert.ok(verdict.ok, !verdict.ok ? verdict.message : '');
          assert.equal((loaded.meta.head - 5) % 3, 0, 'a cold start sees whole writes');
          const asOfLoad = initialState();
          for await (const e of log.read({ until: loaded.meta.head })) evolve(asOfLoad, e);
          assert.equal(serialiseState(loaded), serialiseState(asOfLoad));
        }
      } finally {
        writing = false;
        await writer;
      }
      await log.close();
    });

    it('verifies a clean log and names its head', async () => {
      const log = await h.create();
      const r = recorder();
      const written = [...(await appendSample(log, r, 5)), ...(await appendSample(log, r, 2))];
      assert.deepEqual(await log.verify(), { ok: true, head: 7, headHash: written[6]?.hash });
      await log.close();
    });

    it('hands verify()\'s caller every record that passed, as read() returns them, and none past a break', async () => {
      let log = await h.create();
      const r = recorder();
      await appendSample(log, r, 3);
      await appendSample(log, r, 2);
      const seen: RecordedEvent[] = [];
      assert.equal((await log.verify({ onRecord: (e) => seen.push(e) })).ok, true);
      assert.deepEqual(seen, await readAll(log));
      // Record 6 links to a hash that is not record 5's.
      log = await h.injectRecord(log, 6, foreignRecord(6, 'f'.repeat(64), 'LocalFileDeleted', 1, { path: 'x' }));
      const passed: number[] = [];
      const verdict = await log.verify({ onRecord: (e) => passed.push(e.seq) });
      assert.equal(!verdict.ok && verdict.seq, 6);
      assert.deepEqual(passed, [1, 2, 3, 4, 5]);
      await log.close();
    });

    it('reports a stored record of an unknown type as EVENT_UNKNOWN_TYPE, without crashing', async () => {
      let log = await h.create();
      const r = recorder();
      const written = await appendSample(log, r, 2);
      const value = foreignRecord(3, written[1]?.hash as string, 'TeleportRequested', 1, { where: 'mars' });
      log = await h.injectRecord(log, 3, value);
      assert.deepEqual((await readAll(log, { until: 2 })).map((e) => e.seq), [1, 2]);
      await assert.rejects(readAll(log), (e: unknown) => isPloppyError(e, 'EVENT_UNKNOWN_TYPE') && /TeleportRequested/.test(e.message));
      assert.equal(h.openIterators(log), 0);
      await assert.rejects(readAll(log, { from: 3 }), (e: unknown) => isPloppyError(e, 'EVENT_UNKNOWN_TYPE'));
      assert.equal(h.openIterators(log), 0);
      const verdict = await log.verify();
      assert.equal(verdict.ok, false);
      assert.equal(!verdict.ok && verdict.seq, 3);
      assert.equal(!verdict.ok && verdict.problem, 'unreadable');
      await log.close();
    });

    it('lifts an old schema version through the upcaster of an injected registry', async () => {
      let log = await h.create();
      const r = recorder();
      const written = await appendSample(log, r, 1);
      // A v1 ScanFinished record, read by a build whose ScanFinished is v2 (v2 adds `dirs`).
      const value = foreignRecord(2, written[0]?.hash as string, 'ScanFinished', 1, { files: 7, bytes: 99 });
      const versions = { ...currentVersions, ScanFinished: 2 };
      const upcasters: UpcasterRegistry = { ScanFinished: { 1: (d) => ({ ...(d as object), dirs: 0 }) } };
      log = await h.injectRecord(log, 2, value, { versions, upcasters });
      const [, lifted] = await readAll(log);
      assert.equal(lifted?.type, 'ScanFinished');
      assert.equal(lifted?.v, 2);
      assert.deepEqual(lifted?.data, { files: 7, bytes: 99, dirs: 0 });
      assert.equal((await log.verify()).ok, true);
      log = await h.reopen(log, { versions });
      await assert.rejects(readAll(log), (e: unknown) => isPloppyError(e, 'EVENT_UNKNOWN_VERSION'));
      await log.close();
    });

    it('refuses writes and reads once closed', async () => {
      const log = await h.create();
      const r = recorder();
      await appendSample(log, r, 1);
      await log.close();
      await assert.rejects(appendSample(log, r, 1), (e: unknown) => isPloppyError(e, 'LOG_CLOSED'));
      await assert.rejects(readAll(log), (e: unknown) => isPloppyError(e, 'LOG_CLOSED'));
    });
  });
}
