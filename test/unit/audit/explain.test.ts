/**
 * `explain` and `conflicts --json` on scripted histories run by real engines
 * in memory: an edit relayed through a middle peer, a concurrent edit, an
 * edit against a delete and a rename. Each is pinned by a golden file, and
 * the facts that matter are asserted on their own (so a golden file
 * regenerated over a bug still fails here).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { conflictDetails, explain, explanationText, conflictsText, recordedState, type Explanation } from '../../../src/audit/index.js';
import { conflictsView } from '../../../src/projections/views.js';
import type { RecordedEvent } from '../../../src/events/types.js';
import { golden } from './golden.js';
import type { MessageId } from '../../../src/core/ids.js';
import { TestNet } from '../engine/harness.js';
import { A, B, C, concurrentEdit, editAgainstDelete, logsOf, recorded, relayed, renamed, type Scenario } from './scenarios.js';

async function explainAll(s: Scenario, path = s.path): Promise<Record<string, Explanation>> {
  const logs = await logsOf(s);
  const out: Record<string, Explanation> = {};
  for (const [name, records] of Object.entries(logs)) out[name] = explain(records, path);
  return out;
}

const text = (all: Record<string, Explanation>): string => Object.entries(all).map(([n, x]) => `== ${n}\n${explanationText(x)}`).join('\n\n');

const details = (records: RecordedEvent[]) => conflictDetails(records, conflictsView(recordedState(records)));

describe('audit: explain', () => {
  it('an edit relayed through a middle peer: origin, last hop and what A knows of the route', async () => {
    const all = await explainAll(relayed());
    golden('explain-relayed.txt', text(all));
    golden('explain-relayed.json', JSON.stringify(all.a, null, 1));
    const a = all.a as Explanation;
    assert.equal(a.status?.state, 'in sync');
    assert.equal(a.current?.author, C);
    assert.deepEqual(a.current?.vv, { [C]: 2 });
    const arrivals = a.steps.filter((s) => s.route !== undefined);
    assert.equal(arrivals.length, 2, 'both of C\'s versions reached A');
    for (const s of arrivals) {
      assert.equal(s.from, B, 'the last hop is B');
      assert.deepEqual(s.route?.hops, [C, B, A], 'A knows C through B');
    }
    assert.deepEqual(a.versions.map((v) => v.relation), ['ancestor', 'current']);
    const c = all.c as Explanation;
    assert.deepEqual(c.versions.map((v) => v.origin), ['made here', 'made here']);
    // Every step names the sequence number of a real event concerning the path.
    for (const s of a.steps) assert.ok(s.seq >= 1 && s.seq <= a.head);
  });

  it('a concurrent edit: the conflict, the rule, the winner and the copy', async () => {
    const all = await explainAll(concurrentEdit());
    golden('explain-concurrent.txt', text(all));
    for (const x of Object.values(all)) {
      assert.equal(x.status?.state, 'conflict');
      assert.equal(x.conflicts.length, 1);
      const c = x.conflicts[0];
      assert.equal(c?.rule, 'later-hlc');
      assert.equal(c?.loser.author, A, 'A edited first, so A loses');
      assert.match(c?.copyPath ?? '', /^f\.ploppy-conflict-\d{8}-\d{6}-aaaaaaaa\.txt$/);
      assert.ok(x.steps.some((s) => s.event === 'ConflictDetected' && s.rule === 'later-hlc'));
      assert.deepEqual(x.versions.filter((v) => v.relation === 'conflict loser').map((v) => v.version.author), [A]);
    }
  });

  it('an edit against a delete: the edit wins by modify-beats-delete, on both sides', async () => {
    const all = await explainAll(editAgainstDelete());
    golden('explain-edit-delete.txt', text(all));
    const a = all.a as Explanation;
    const b = all.b as Explanation;
    assert.equal(a.deleted, null);
    assert.equal(a.current?.author, B);
    assert.ok(a.steps.some((s) => s.event === 'LocalFileDeleted'), 'A saw its own delete');
    assert.ok(a.steps.some((s) => s.event === 'VersionAccepted' && s.what.includes('modify-beats-delete')));
    assert.ok(b.steps.some((s) => s.event === 'VersionsMerged' && s.what.includes('modify-beats-delete') && s.what.includes('ours wins')));
  });

  it('a rename: the old path says who renamed it and to what; the new path came with IMOVED', async () => {
    const s = renamed();
    const news = await explainAll(s, 'new.txt');
    const olds = await explainAll(s, 'old.txt');
    golden('explain-rename.txt', `${text(news)}\n\n${text(olds)}`);
    const oldB = olds.b as Explanation;
    assert.equal(oldB.status?.state, 'deleted');
    assert.equal(oldB.deleted?.by, A);
    assert.equal(oldB.deleted?.here, false);
    assert.equal(oldB.deleted?.renamedTo, 'new.txt');
    assert.equal(olds.a?.deleted?.here, true);
    const newB = news.b as Explanation;
    assert.ok(newB.steps.some((st) => st.cmd === 'IMOVED' && st.movedFrom === 'old.txt' && st.movedTo === 'new.txt'));
    assert.equal(newB.current?.author, A);
  });

  it('a local edit while another version is being fetched: the conflict names both and the rule', async () => {
    const net = new TestNet(1);
    const a = net.add(A, { create: true });
    const b = net.add(B);
    a.write('x.txt', 'made on A');
    const version = a.state.files.get('x.txt')?.version;
    assert.ok(version !== undefined);
    // B hears of A's version but cannot fetch it (no link): the transfer stays under way.
    b.handle({ kind: 'received', from: a.id, msg: { cmd: 'IHAVE', id: '00000000-0000-4000-8000-00000000a001' as MessageId, files: [version], upTo: 9 } });
    assert.equal(b.state.transfers.get('x.txt')?.state, 'downloading');
    const during = explain(await recorded(b.log), 'x.txt');
    assert.equal(during.status?.state, 'waiting for a source');
    assert.ok(during.notInSync.some((r) => r.startsWith('downloading: 0 of')));
    assert.ok(during.notInSync.some((r) => r.includes('waiting for a peer') && r.includes('aaaaaaaa')));
    net.advance(1000);
    b.write('x.txt', 'made on B meanwhile');
    const x = explain(await recorded(b.log), 'x.txt');
    const decided = x.steps.filter((st) => st.seq > (during.head ?? 0) && st.what.includes('was concurrent with ours'));
    assert.ok(decided.length > 0, x.steps.map((st) => st.what).join('\n'));
    assert.ok(decided.every((st) => st.what.includes("aaaaaaaa's") && st.what.includes('later-hlc')));
  });

  it('a file not in sync says why: a full disk, a block nobody can send, a peer without it, a rejected block', async () => {
    const net = new TestNet(1);
    const a = net.add(A, { create: true });
    const b = net.add(B);
    a.write('y.txt', 'a file B will not get');
    const version = a.state.files.get('y.txt')?.version;
    assert.ok(version !== undefined);
    b.handle({ kind: 'received', from: a.id, msg: { cmd: 'IHAVE', id: '00000000-0000-4000-8000-00000000b001' as MessageId, files: [version], upTo: 9 } });
    const records = await recorded(b.log);
    const hash = version.blocks[0] as string;
    const last = records[records.length - 1] as RecordedEvent;
    let seq = last.seq;
    const next = (type: string, data: unknown): RecordedEvent => ({ ...last, seq: ++seq, type, data } as unknown as RecordedEvent);
    const reasons = (extra: RecordedEvent[]) => explain([...records, ...extra], 'y.txt').notInSync.join('\n');
    assert.match(reasons([next('TransferFailed', { path: 'y.txt', code: 'DISK_FULL', reason: 'no space left on device' })]), /transfer failed: the disk is full/);
    assert.match(
      reasons([next('TransferFailed', { path: 'y.txt', code: 'BLOCK_UNAVAILABLE', reason: `block ${hash.slice(0, 12)}: peer does not have it (9 tries)` })]),
      new RegExp(`block ${hash.slice(0, 12)} could not be had from any peer`),
    );
    assert.match(reasons([next('MessageReceived', { from: A, message: { cmd: 'DONTHAVE', id: '00000000-0000-4000-8000-00000000b002', hashes: [hash] } })]), /DONTHAVE from aaaaaaaa: it does not have block/);
    assert.match(reasons([next('BlockRejected', { path: 'y.txt', hash, from: A, reason: 'hash mismatch' })]), /block [0-9a-f]{12} from aaaaaaaa rejected: hash mismatch/);
    assert.match(reasons([]), /waiting for a peer: every source \(aaaaaaaa\) is disconnected/);
  });

  it('a path nobody mentioned: unknown, with the reason', async () => {
    const logs = await logsOf(relayed());
    const x = explain(logs.a as RecordedEvent[], 'never.txt');
    assert.equal(x.status, null);
    assert.equal(x.steps.length, 0);
    assert.match(x.notInSync[0] ?? '', /no event in this peer's log concerns never\.txt/);
    const ignored = explain(logs.a as RecordedEvent[], 'never.txt', { ignored: true });
    assert.match(ignored.notInSync[0] ?? '', /^ignored/);
  });
});

describe('audit: conflicts --json', () => {
  it('a concurrent edit: both versions with author, vector, content hash and the events behind them', async () => {
    const logs = await logsOf(concurrentEdit());
    const all = { a: details(logs.a as RecordedEvent[]), b: details(logs.b as RecordedEvent[]) };
    golden('conflicts-concurrent.json', JSON.stringify(all, null, 1));
    golden('conflicts-concurrent.txt', `${conflictsText(all.a)}\n\n${conflictsText(all.b)}`);
    for (const [name, list] of Object.entries(all)) {
      const records = logs[name] as RecordedEvent[];
      assert.equal(list.length, 1);
      const c = list[0];
      assert.ok(c !== undefined);
      assert.equal(c.rule, 'later-hlc');
      assert.deepEqual(c.versions.map((v) => v.role), ['loser', 'winner']);
      const [loser, winner] = c.versions;
      assert.equal(loser?.author, A);
      assert.equal(winner?.author, B);
      assert.notEqual(loser?.contentHash, winner?.contentHash);
      assert.equal(winner?.contentHash, c.winnerInfo.contentHash, 'the winning content is what is at the path');
      // Every event named exists in the log and concerns one of the versions.
      for (const v of c.versions) {
        assert.ok(v.producedBy.length > 0);
        for (const p of v.producedBy) assert.equal(records[p.seq - 1]?.type, p.type);
      }
      assert.ok(c.detections.length >= 1 && c.detections.every((d) => records[d.seq - 1]?.type === d.type));
      assert.ok(c.detections.some((d) => d.type === 'ConflictDetected'), 'the decision itself is among them');
    }
  });

  it('an edit against a delete and a rename keep no conflict copy', async () => {
    for (const s of [editAgainstDelete(), renamed()]) {
      const logs = await logsOf(s);
      for (const records of Object.values(logs)) assert.deepEqual(details(records), []);
    }
  });
});
