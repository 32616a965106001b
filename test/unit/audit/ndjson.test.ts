/**
 * Export and import: the NDJSON lines are the records as the store hashed
 * them, so a file verifies without ploppy's store; any edit, loss or
 * reordering is named by line and sequence number; a complete file rebuilds
 * the projections to the same projection hash as the original fold.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { exportLine, importLines, projectionHash, recordedState } from '../../../src/audit/index.js';
import { genesisHash, type RecordedEvent } from '../../../src/events/types.js';
import { concurrentEdit, logsOf } from './scenarios.js';

async function lines(): Promise<{ records: RecordedEvent[]; lines: string[] }> {
  const logs = await logsOf(concurrentEdit());
  const records = logs.a as RecordedEvent[];
  return { records, lines: records.map(exportLine) };
}

describe('audit: export and import', () => {
  it('each line hashes to its own hash without ploppy (SHA-256 of the line minus "hash")', async () => {
    const { records, lines: ls } = await lines();
    let prev = genesisHash;
    ls.forEach((line, i) => {
      const o = JSON.parse(line) as Record<string, unknown>;
      assert.deepEqual(Object.keys(o), ['seq', 'id', 'hlc', 'peer', 'v', 'type', 'data', 'prev', 'hash']);
      const { hash, ...body } = o;
      assert.equal(createHash('sha256').update(JSON.stringify(body)).digest('hex'), hash);
      assert.equal(o.prev, prev);
      assert.equal(hash, records[i]?.hash, 'the stored hash, unchanged');
      prev = hash as string;
    });
  });

  it('a complete export imports to the projection hash of the original fold', async () => {
    const { records, lines: ls } = await lines();
    const { report, state } = await importLines(ls, { verifyDecisions: true });
    assert.equal(report.ok, true);
    assert.equal(report.events, records.length);
    assert.equal(report.head, records.length);
    assert.equal(report.projectionHash, projectionHash(recordedState(records)));
    assert.equal(report.conflicts, 1);
    assert.equal(report.decisions?.ok, true);
    assert.ok((report.decisions?.checked ?? 0) > 0);
    assert.ok(state !== null);
  });

  it('names the first bad line: an edited field, a lost line, two lines swapped, a line that is not JSON', async () => {
    const { lines: ls } = await lines();
    const edited = [...ls];
    edited[9] = (edited[9] as string).replace('"peer":"aaaaaaaaaaaaaaaa"', '"peer":"bbbbbbbbbbbbbbbb"');
    const lost = ls.filter((_, i) => i !== 5);
    const swapped = [...ls];
    [swapped[3], swapped[4]] = [swapped[4] as string, swapped[3] as string];
    const garbage = [...ls.slice(0, 2), '{"seq":', ...ls.slice(2)];
    const cases: [string[], number, string][] = [[edited, 10, 'hash-mismatch'], [lost, 6, 'gap'], [swapped, 4, 'gap'], [garbage, 3, 'unreadable']];
    for (const [input, line, problem] of cases) {
      const { report, state } = await importLines(input);
      assert.equal(report.ok, false);
      assert.equal(report.problem?.line, line);
      assert.equal(report.problem?.problem, problem);
      assert.equal(report.projectionHash, null);
      assert.equal(state, null);
    }
  });

  it('a forged chain (record and hash replaced together) breaks the next link', async () => {
    const { lines: ls } = await lines();
    const o = JSON.parse(ls[7] as string) as Record<string, unknown>;
    const { hash: _old, ...body } = o;
    const forgedBody = { ...body, peer: 'bbbbbbbbbbbbbbbb' };
    const forged = JSON.stringify({ ...forgedBody, hash: createHash('sha256').update(JSON.stringify(forgedBody)).digest('hex') });
    const { report } = await importLines([...ls.slice(0, 7), forged, ...ls.slice(8)]);
    assert.equal(report.problem?.problem, 'broken-link');
    assert.equal(report.problem?.seq, 9);
  });

  it('an export from a later sequence verifies but does not claim projections', async () => {
    const { lines: ls } = await lines();
    const { report } = await importLines(ls.slice(10));
    assert.equal(report.ok, true);
    assert.equal(report.firstSeq, 11);
    assert.equal(report.complete, false);
    assert.equal(report.projectionHash, null);
  });

  it('blank lines are ignored; an empty file is an empty log', async () => {
    const { lines: ls } = await lines();
    const spaced = (await importLines(['', ...ls, '', ''])).report;
    assert.equal(spaced.ok, true);
    const empty = (await importLines([])).report;
    assert.equal(empty.events, 0);
    assert.equal(empty.projectionHash, projectionHash(recordedState([])));
  });
});
