/**
 * `sim --from-logs` on simulated histories: replaying the exported logs of
 * every peer in the causal order rebuilt from them reproduces each peer's
 * recorded files and conflicts projections exactly. Histories come from the
 * engine harness (fast-check ops) and from seeded runs of the simulator
 * (src/sim, with its faults: crashes, restarts, reordering, duplicates).
 * Perturbed runs must always complete and stay deterministic.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { exportLine, importLines, runFromLogs, type PeerLog } from '../../src/audit/index.js';
import type { RecordedEvent } from '../../src/events/types.js';
import { createEngine } from '../../src/engine/index.js';
import { scheduleFaults } from '../../src/sim/faults.js';
import { finishRun, knobsFor, World } from '../../src/sim/index.js';
import { describeOps, historyArb, logsOf, play } from './audit-histories.js';

const runs = Number(process.env.AUDIT_PROPERTY_RUNS ?? 40);
/** Seeds whose runs include crashes and restarts (a restarted engine starts from the durable log). */
const simSeeds = (process.env.AUDIT_SIM_SEEDS ?? '1,2,5,6').split(',').map(Number);
const simSteps = 1200;

const peerLogs = (logs: readonly RecordedEvent[][]): PeerLog[] => logs.map((records, i) => ({ name: `p${i}`, records }));

function reproduced(logs: readonly PeerLog[], context: string): void {
  const r = runFromLogs(logs);
  for (const p of r.peers) assert.equal(p.exact, true, `${context}: ${p.name} not reproduced: ${p.firstDifference}`);
}

describe('audit property: sim --from-logs', () => {
  it('reproduces engine-harness histories exactly; perturbed runs complete, deterministically', async () => {
    await fc.assert(
      fc.asyncProperty(historyArb, fc.integer({ min: 1, max: 1000 }), async (ops, seed) => {
        const logs = peerLogs(await logsOf(play(ops)));
        reproduced(logs, describeOps(ops));
        const perturbed = runFromLogs(logs, { seed });
        assert.deepEqual(runFromLogs(logs, { seed }), perturbed);
      }),
      { numRuns: runs },
    );
  });

  for (const seed of simSeeds) {
    it(`reproduces the simulator's history for seed ${seed}, read back from export files`, { timeout: 300_000 }, async () => {
      const w = new World({ knobs: knobsFor({ seed, peers: 3, steps: simSteps }), createEngine });
      w.start();
      scheduleFaults(w);
      for (let i = 0; i < simSteps && !w.stopped; i++) {
        const r = w.step();
        if ((r instanceof Promise ? await r : r) === false) break;
      }
      // The run's own verdict is the simulator's business; whatever it recorded must replay.
      await finishRun(w, { reportDir: null, quietMs: 5_000 });
      const logs: PeerLog[] = [];
      for (const p of w.peers) {
        const lines: string[] = [];
        for await (const e of p.log.read()) {
          lines.push(exportLine(e));
          // The simulator's failure reports (one JSON.stringify'd record per line) are export files too.
          assert.equal(JSON.stringify(e), lines[lines.length - 1]);
        }
        const { report, records } = await importLines(lines, { keepRecords: true });
        assert.equal(report.ok, true);
        logs.push({ name: `p${p.index}`, records: records as RecordedEvent[] });
      }
      assert.ok(logs.every((l) => l.records.length > 0));
      reproduced(logs, `sim seed ${seed}`);
    });
  }
});
