/** Time travel: states at a point of the log (by sequence or time), and the diff between two points. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diffStates, diffText, foldToPoints, foldUntil, foldUntilSync, parsePoint, recordedState } from '../../../src/audit/index.js';
import type { RecordedEvent } from '../../../src/events/types.js';
import { serialiseState } from '../../../src/projections/snapshot.js';
import { evolve, initialState } from '../../../src/projections/state.js';
import { editAgainstDelete, logsOf, renamed } from './scenarios.js';

const fold = (records: readonly RecordedEvent[]) => {
  const s = initialState();
  for (const e of records) evolve(s, e);
  s.dirty.clear();
  return s;
};

describe('audit: as-of', () => {
  it('a sequence bound folds exactly that prefix; a time bound every event stamped at or before it', async () => {
    const records = (await logsOf(renamed())).b as RecordedEvent[];
    for (const k of [0, 1, 7, records.length, records.length + 5]) {
      assert.equal(serialiseState(await foldUntil(records, { seq: k })), serialiseState(fold(records.slice(0, k))));
    }
    const t = (records[12] as RecordedEvent).hlc.wallMs;
    const upTo = records.filter((e) => e.hlc.wallMs <= t);
    assert.ok(upTo.length > 12 && upTo.length < records.length, 'the scenario has events at several times');
    assert.equal(serialiseState(foldUntilSync(records, parsePoint(new Date(t).toISOString(), '--as-of'))), serialiseState(fold(upTo)));
  });

  it('parsePoint takes a sequence number or an ISO time, and refuses anything else', () => {
    assert.deepEqual(parsePoint('12', '--from'), { seq: 12 });
    assert.deepEqual(parsePoint('2026-01-01T00:00:00Z', '--from'), { timeMs: Date.UTC(2026, 0, 1) });
    assert.throws(() => parsePoint('yesterday', '--from'), /USAGE/);
    assert.throws(() => parsePoint(undefined, '--from'), /USAGE/);
  });

  it('foldToPoints gives the same states as separate folds, whatever the order of the points', async () => {
    const records = (await logsOf(renamed())).a as RecordedEvent[];
    const [x, y, z] = await foldToPoints(records, [{ seq: 9 }, { seq: 3 }, { seq: 1000 }]);
    assert.equal(serialiseState(x!), serialiseState(fold(records.slice(0, 9))));
    assert.equal(serialiseState(y!), serialiseState(fold(records.slice(0, 3))));
    assert.equal(serialiseState(z!), serialiseState(recordedState(records)));
  });
});

describe('audit: diff', () => {
  it('a rename is the old path deleted and the new one added', async () => {
    const records = (await logsOf(renamed())).b as RecordedEvent[];
    const renameAt = records.find((e) => e.type === 'MessageReceived' && e.data.message.cmd === 'IMOVED')?.seq ?? 0;
    const [before, after] = await foldToPoints(records, [{ seq: renameAt - 1 }, { seq: records.length }]);
    const d = diffStates(before!, after!);
    assert.deepEqual(d.added.map((e) => e.path), ['new.txt']);
    assert.deepEqual(d.deleted.map((e) => e.path), ['old.txt']);
    assert.deepEqual(d.changed, []);
    assert.equal(d.deleted[0]?.after?.deleted, true);
    assert.equal(d.added[0]?.after?.contentHash, d.deleted[0]?.before?.contentHash, 'same content under the new name');
    assert.match(diffText(d), /\+ new\.txt[\s\S]*- old\.txt/);
  });

  it('an edit that beat a delete is a change of content; nothing changes between equal points', async () => {
    const records = (await logsOf(editAgainstDelete())).a as RecordedEvent[];
    const deleteAt = records.find((e) => e.type === 'LocalFileDeleted')?.seq ?? 0;
    const [beforeDelete, atDelete, end] = await foldToPoints(records, [{ seq: deleteAt - 1 }, { seq: deleteAt }, { seq: records.length }]);
    assert.deepEqual(diffStates(beforeDelete!, atDelete!).deleted.map((e) => e.path), ['doc.txt']);
    assert.deepEqual(diffStates(atDelete!, end!).added.map((e) => e.path), ['doc.txt'], 'gone at the delete, back with the edit');
    const whole = diffStates(beforeDelete!, end!);
    assert.deepEqual(whole.changed.map((e) => [e.path, e.contentChanged]), [['doc.txt', true]]);
    const none = diffStates(end!, end!);
    assert.equal(none.added.length + none.changed.length + none.deleted.length, 0);
  });
});
