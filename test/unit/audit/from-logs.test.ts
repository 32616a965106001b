/**
 * `sim --from-logs`: the recorded order reproduces every peer's files and
 * conflicts exactly; a chosen reordering answers "would this conflict have
 * happened if A's message had arrived first?"; seeded perturbations are
 * deterministic; logs that do not fit together are refused or reported.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exportLine, importLines, moveDelivery, runFromLogs, type PeerLog } from '../../../src/audit/index.js';
import type { RecordedEvent } from '../../../src/events/types.js';
import { A, B, concurrentEdit, crossedEdits, editAgainstDelete, logsOf, relayed, renamed, type Scenario } from './scenarios.js';

async function peerLogs(s: Scenario): Promise<PeerLog[]> {
  return Object.entries(await logsOf(s)).map(([name, records]) => ({ name, records }));
}

describe('audit: sim --from-logs', () => {
  for (const make of [relayed, concurrentEdit, editAgainstDelete, renamed, crossedEdits]) {
    it(`replays ${make.name} exactly`, async () => {
      const logs = await peerLogs(make());
      const r = runFromLogs(logs);
      assert.equal(r.ok, true, JSON.stringify(r.peers.map((p) => p.firstDifference)));
      for (const p of r.peers) {
        assert.equal(p.exact, true);
        assert.equal(p.recordedHash, p.simulatedHash);
        assert.equal(p.decisionsDiffer, 0);
        assert.equal(p.skipped, 0);
      }
      assert.ok(r.deliveries.linked > 0 && r.deliveries.matched === r.deliveries.linked, 'every announcement matched its sender\'s files at its send point');
    });
  }

  it('through an export file and back: the same logs, the same verdict', async () => {
    const logs = await peerLogs(relayed());
    const reread: PeerLog[] = [];
    for (const l of logs) {
      const { records } = await importLines(l.records.map(exportLine), { keepRecords: true });
      reread.push({ name: l.name, records: records as RecordedEvent[] });
    }
    assert.deepEqual(runFromLogs(reread), runFromLogs(logs));
  });

  it("would the conflict have happened if A's message had reached B before B's edit? No", async () => {
    const logs = await peerLogs(crossedEdits());
    const b = logs.find((l) => l.name === 'b')?.records ?? [];
    const edit = b.find((e) => e.type === 'LocalFileChanged' && e.data.path === 'plan.txt' && e.data.size === 'edit by b'.length);
    const fromA = b.find((e) => e.type === 'MessageReceived' && e.seq > (edit?.seq ?? 0) && e.data.message.cmd === 'IHAVE' && e.data.message.files.some((f) => f.path === 'plan.txt'));
    assert.ok(edit !== undefined && fromA !== undefined);
    const recorded = runFromLogs(logs);
    assert.ok(recorded.peers.every((p) => p.conflictsOnlyRecorded.length === 0));
    const what = runFromLogs(logs, (lists) => moveDelivery(lists, B, fromA.seq, edit.seq));
    assert.equal(what.changedOutcome, true);
    assert.deepEqual(what.perturbations.map((p) => [p.kind, p.peer, p.seq]), [['hasten', B, fromA.seq]]);
    for (const p of what.peers) {
      assert.equal(p.conflictsOnlyRecorded.length, 1, `${p.name}: the recorded conflict does not happen`);
      assert.deepEqual(p.conflictsOnlySimulated, []);
      assert.ok(p.filesDiffering.includes('plan.txt'));
    }
  });

  it('a perturbation that moves nothing is the recorded replay; a seed always gives the same run', async () => {
    const logs = await peerLogs(concurrentEdit());
    const still = runFromLogs(logs, (lists) => ({ lists: lists.map((l) => [...l]), changes: [], diverged: lists.map(() => new Set<string>()) }));
    assert.ok(still.peers.every((p) => p.exact));
    for (const seed of [1, 2, 3]) {
      const x = runFromLogs(logs, { seed });
      assert.deepEqual(runFromLogs(logs, { seed }), x);
      assert.equal(x.seed, seed);
      assert.equal(x.ok, true);
    }
    const some = [1, 2, 3, 4, 5, 6].map((seed) => runFromLogs(logs, { seed, dropRate: 0.2, delayRate: 0.4, hastenRate: 0.4 }));
    assert.ok(some.some((r) => r.perturbations.length > 0));
  });

  it('refuses a log that does not start at seq 1, and two logs of one peer', async () => {
    const logs = await peerLogs(relayed());
    const first = logs[0] as PeerLog;
    assert.throws(() => runFromLogs([{ name: 'cut', records: first.records.slice(3) }]), /IMPORT_INVALID.*seq 4/);
    assert.throws(() => runFromLogs([first, { ...first, name: 'again' }]), /same peer/);
  });

  it('a log alone (its neighbours missing) still replays: its deliveries are fed as recorded', async () => {
    const logs = await peerLogs(relayed());
    const r = runFromLogs([logs.find((l) => l.name === 'a') as PeerLog]);
    assert.equal(r.ok, true);
    assert.equal(r.deliveries.linked, 0);
    assert.equal(r.peers[0]?.peer, A);
  });
});
