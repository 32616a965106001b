/**
 * Export then import gives the projection hash of the live state, for any
 * engine-made history; and an export cut at any point verifies on its own.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { exportLine, importLines, projectionHash } from '../../src/audit/index.js';
import type { RecordedEvent } from '../../src/events/types.js';
import { historyArb, logsOf, play } from './audit-histories.js';

const runs = Number(process.env.AUDIT_PROPERTY_RUNS ?? 40);

describe('audit property: export and import', () => {
  it('import(export(log)) has the projection hash of the live state, and its decisions re-derive', async () => {
    await fc.assert(
      fc.asyncProperty(historyArb, async (ops) => {
        const h = play(ops);
        const logs = await logsOf(h);
        for (const [i, node] of h.nodes.entries()) {
          const lines = (logs[i] as RecordedEvent[]).map(exportLine);
          const { report } = await importLines(lines.join('\n').split('\n'), { verifyDecisions: true });
          assert.equal(report.ok, true, report.problem?.message ?? report.decisions?.firstMismatch ?? '');
          assert.equal(report.projectionHash, projectionHash(node.state));
        }
      }),
      { numRuns: runs },
    );
  });

  it('an export from any sequence verifies, anchored to the record before it', async () => {
    await fc.assert(
      fc.asyncProperty(historyArb, fc.nat(), async (ops, fromSeed) => {
        const records = (await logsOf(play(ops)))[1] as RecordedEvent[];
        const from = 1 + (fromSeed % records.length);
        const { report } = await importLines(records.slice(from - 1).map(exportLine));
        assert.equal(report.ok, true);
        assert.equal(report.firstSeq, from);
        assert.equal(report.head, records.length);
        assert.equal(report.headHash, records[records.length - 1]?.hash);
      }),
      { numRuns: runs },
    );
  });
});
