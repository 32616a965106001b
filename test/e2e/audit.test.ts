/**
 * The audit commands on real daemons (A <- B <- C on loopback): explain an
 * edit relayed through the middle peer, a concurrent edit, an edit against a
 * delete and a rename; conflicts --json; status/network --as-of; diff;
 * export, import and replaying all three exported logs with sim --from-logs.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { explanationText, type ConflictDetail, type Explanation, type ExportSummary, type ImportReport, type StateDiff } from '../../src/audit/index.js';
import type { RecordedEvent } from '../../src/events/types.js';
import { cleanup, cli, createPeer, describePeers, joinPeer, run, runJson, startPeer, stopPeer, tempDir, treesEqual, waitFor, type Peer } from './helpers.js';

interface StatusReport {
  head: number;
  rows: { path: string; state: string }[];
}

describe('audit on real daemons (A <- B <- C)', { timeout: 600_000 }, () => {
  let a: Peer, b: Peer, c: Peer;
  const ids: Record<string, string> = {};
  const peers = (): Peer[] => [a, b, c];
  const out = tempDir('audit-files');

  const self = async (p: Peer): Promise<string> => (await runJson<{ peer: string; self: boolean }[]>(p, ['network'])).find((r) => r.self)?.peer ?? '';
  const explain = (p: Peer, path: string, ...more: string[]): Promise<Explanation> => runJson<Explanation>(p, ['explain', path, ...more]);
  const eventAt = async (p: Peer, seq: number): Promise<RecordedEvent> => {
    const r = await run(p, ['log', '--since', String(seq), '--until', String(seq), '--json']);
    assert.equal(r.code, 0, `log on ${p.label}: ${r.stderr}`);
    assert.notEqual(r.stdout.trim(), '', `${p.label} has no event at seq ${seq}`);
    return JSON.parse(r.stdout.trim()) as RecordedEvent;
  };
  const has = (p: Peer, name: string, content?: string): boolean =>
    existsSync(join(p.dir, name)) && (content === undefined || readFileSync(join(p.dir, name), 'utf8') === content);

  before(async () => {
    a = await createPeer('audit-a');
    b = await joinPeer('audit-b', a);
    c = await joinPeer('audit-c', b);
    for (const p of peers()) ids[p.label] = await self(p);
  });
  after(async () => {
    await cleanup(peers().filter((p) => p !== undefined));
    rmSync(out, { recursive: true, force: true });
  });

  it('explains an edit relayed through the middle peer: author C, last hop B, seqs behind each step', async () => {
    writeFileSync(join(c.dir, 'notes.txt'), 'written on C\n');
    await waitFor('notes.txt on A', () => has(a, 'notes.txt', 'written on C\n'), 120_000);
    await waitFor('A to commit it', async () => (await explain(a, 'notes.txt')).status?.state === 'in sync');
    const x = await explain(a, 'notes.txt');
    assert.equal(x.self, ids['audit-a']);
    assert.equal(x.current?.author, ids['audit-c']);
    const arrival = x.steps.find((s) => s.route !== undefined && s.version?.author === ids['audit-c']);
    assert.ok(arrival !== undefined, 'an arrival of C\'s version');
    assert.equal(arrival.from, ids['audit-b'], 'the last hop is B');
    assert.equal(arrival.route?.hops[0], ids['audit-c']);
    assert.deepEqual(arrival.route?.hops.slice(-2), [ids['audit-b'], ids['audit-a']]);
    const logged = await eventAt(a, arrival.seq);
    assert.equal(logged.type, 'MessageReceived');
    assert.ok(x.steps.some((s) => s.event === 'FileCommitted'));
    const svg = join(out, 'notes.svg');
    const r = await run(a, ['explain', 'notes.txt', '--svg', svg]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /how it got here:/);
    assert.ok(readFileSync(svg, 'utf8').startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  });

  it('explains a concurrent edit and lists it in conflicts --json with both versions and their events', async () => {
    await waitFor('notes.txt everywhere', () => treesEqual(peers()), 120_000, () => describePeers(peers()));
    await stopPeer(b);
    writeFileSync(join(a.dir, 'notes.txt'), 'edited on A\n');
    await waitFor('A to record its edit', async () => (await explain(a, 'notes.txt')).current?.author === ids['audit-a']);
    writeFileSync(join(b.dir, 'notes.txt'), 'edited on B\n');
    await startPeer(b);
    await waitFor('one conflict copy everywhere', () => treesEqual(peers()) && readdirSync(c.dir).filter((n) => n.includes('.ploppy-conflict-')).length === 1, 180_000, () => describePeers(peers()));
    for (const p of peers()) {
      await waitFor(`${p.label} to list the conflict`, async () => (await runJson<ConflictDetail[]>(p, ['conflicts'])).length === 1);
      const [detail] = await runJson<ConflictDetail[]>(p, ['conflicts']);
      assert.ok(detail !== undefined);
      assert.equal(detail.path, 'notes.txt');
      assert.deepEqual(detail.versions.map((v) => v.role).sort(), ['loser', 'winner']);
      assert.deepEqual(new Set(detail.versions.map((v) => v.author)), new Set([ids['audit-a'], ids['audit-b']]));
      assert.notEqual(detail.versions[0]?.contentHash, detail.versions[1]?.contentHash);
      assert.ok(['later-hlc', 'larger-peer-id'].includes(detail.rule));
      for (const v of detail.versions) {
        assert.ok(v.producedBy.length > 0, `${p.label}: events behind ${v.role}`);
        const first = v.producedBy[0] as ConflictDetail['versions'][number]['producedBy'][number];
        assert.equal((await eventAt(p, first.seq)).type, first.type);
      }
      const x = await explain(p, 'notes.txt');
      assert.equal(x.status?.state, 'conflict');
      // Decided here (ConflictDetected), or learned from the copy alone: either way a step names the copy and the rule.
      assert.ok(x.steps.some((s) => s.copyPath === detail.copyPath && s.rule !== undefined), `${p.label}: ${JSON.stringify(detail.detections)}\n${explanationText(x)}`);
      assert.ok(detail.detections.length > 0);
    }
  });

  it('explains an edit against a delete: the edit wins everywhere, and A saw its own delete lose', async () => {
    writeFileSync(join(a.dir, 'doc.txt'), 'shared\n');
    await waitFor('doc.txt everywhere', () => peers().every((p) => has(p, 'doc.txt', 'shared\n')), 120_000);
    await stopPeer(c);
    rmSync(join(a.dir, 'doc.txt'));
    await waitFor('B to have the delete', async () => (await explain(b, 'doc.txt')).deleted !== null, 120_000);
    writeFileSync(join(c.dir, 'doc.txt'), 'edited on C while A deleted it\n');
    await startPeer(c);
    await waitFor('the edit everywhere', () => peers().every((p) => has(p, 'doc.txt', 'edited on C while A deleted it\n')), 180_000);
    await waitFor('A to settle', async () => (await explain(a, 'doc.txt')).status?.state === 'in sync');
    const x = await explain(a, 'doc.txt');
    assert.equal(x.deleted, null);
    assert.equal(x.current?.author, ids['audit-c']);
    assert.ok(x.steps.some((s) => s.event === 'LocalFileDeleted'));
    assert.ok(x.steps.some((s) => s.event === 'VersionAccepted' && /our delete|modify-beats-delete/.test(s.what)), x.steps.map((s) => s.what).join('\n'));
    // B and C met the two concurrent versions (which of them decided first depends on timing).
    const met = await Promise.all([b, c].map(async (p) => (await explain(p, 'doc.txt')).steps.some((s) => s.what.includes('modify-beats-delete'))));
    if (!met.some(Boolean)) for (const p of [b, c]) console.log(p.label, (await run(p, ['explain', 'doc.txt'])).stdout);
    assert.ok(met.some(Boolean), 'B or C explains the rule that kept the edit');
  });

  it('explains a rename: B heard it as IMOVED from A; C knows who deleted the old path', async () => {
    writeFileSync(join(a.dir, 'old.txt'), 'to be renamed\n');
    await waitFor('old.txt everywhere', () => peers().every((p) => has(p, 'old.txt')), 120_000);
    const before = await runJson<StatusReport>(b, ['status']);
    renameSync(join(a.dir, 'old.txt'), join(a.dir, 'new.txt'));
    await waitFor('the rename everywhere', () => peers().every((p) => has(p, 'new.txt') && !has(p, 'old.txt')), 120_000);
    await waitFor('B to record the delete', async () => (await explain(b, 'old.txt')).deleted !== null);
    const oldB = await explain(b, 'old.txt');
    assert.equal(oldB.deleted?.by, ids['audit-a']);
    if (oldB.steps.some((s) => s.cmd === 'IMOVED')) assert.equal(oldB.deleted?.renamedTo, 'new.txt');
    await waitFor('C to record the delete', async () => (await explain(c, 'old.txt')).deleted?.by === ids['audit-a']);
    const d = await runJson<StateDiff>(b, ['diff', '--from', String(before.head)]);
    assert.deepEqual(d.added.map((e) => e.path), ['new.txt']);
    assert.deepEqual(d.deleted.map((e) => e.path), ['old.txt']);
  });

  it('status and network --as-of: the head is the present, an early point the past', async () => {
    await waitFor('trees equal', () => treesEqual(peers()), 120_000, () => describePeers(peers()));
    const live = await runJson<StatusReport>(a, ['status', '--all']);
    const atHead = await runJson<StatusReport>(a, ['status', '--all', '--as-of', String(live.head)]);
    assert.deepEqual(atHead.rows, live.rows);
    const now = await runJson<StatusReport>(a, ['status', '--all', '--as-of', new Date(Date.now() + 1000).toISOString()]);
    assert.deepEqual(now.rows, live.rows);
    const early = await runJson<StatusReport>(a, ['status', '--all', '--as-of', '3']);
    assert.deepEqual(early.rows, [], 'nothing was known at seq 3');
    const net = (rows: { peer: string; reachability: string }[]) => rows.map((r) => [r.peer, r.reachability]);
    const liveNet = await runJson<{ peer: string; reachability: string }[]>(a, ['network']);
    const headNet = await runJson<{ peer: string; reachability: string }[]>(a, ['network', '--as-of', String(live.head)]);
    assert.deepEqual(net(headNet), net(liveNet));
    const bad = await run(a, ['status', '--as-of', 'last tuesday']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /USAGE/);
  });

  it('exports through the daemon and offline (same bytes), imports to the same projection hash, and sim --from-logs reproduces all three', async () => {
    const online = await run(a, ['export', '--json']);
    assert.equal(online.code, 0, online.stderr);
    const onlineSummary = JSON.parse(online.stderr.trim()) as ExportSummary;
    writeFileSync(join(out, 'a-online.ndjson'), online.stdout);
    const imported = await cli(['import', join(out, 'a-online.ndjson'), '--json', '--verify']);
    assert.equal(imported.code, 0, imported.stdout + imported.stderr);
    const report = JSON.parse(imported.stdout) as ImportReport;
    assert.equal(report.projectionHash, onlineSummary.projectionHash);
    assert.equal(report.head, onlineSummary.head);
    assert.equal(report.decisions?.ok, true);
    for (const p of peers()) await stopPeer(p);
    const files: string[] = [];
    for (const p of peers()) {
      const r = await run(p, ['export']);
      assert.equal(r.code, 0, r.stderr);
      const file = join(out, `${p.label}.ndjson`);
      writeFileSync(file, r.stdout);
      files.push(file);
      const i = await cli(['import', file]);
      assert.equal(i.code, 0, i.stdout);
      assert.match(i.stdout, /projection hash: [0-9a-f]{64}/);
      assert.ok(r.stderr.includes(/projection hash: ([0-9a-f]{64})/.exec(i.stdout)?.[1] ?? 'none'), 'export and import print the same projection hash');
    }
    assert.ok(readFileSync(files[0] as string, 'utf8').startsWith(online.stdout), 'the offline export continues the online one byte for byte');
    const partial = await run(a, ['export', '--from', '5']);
    assert.equal(partial.stdout.split('\n')[0], online.stdout.split('\n')[4]);
    const sim = await cli(['sim', '--from-logs', ...files]);
    assert.equal(sim.code, 0, sim.stdout + sim.stderr);
    assert.match(sim.stdout, /REPRODUCED/);
    const perturbed = await cli(['sim', '--from-logs', ...files, '--perturb', '--seed', '1', '--runs', '3']);
    assert.equal(perturbed.code, 0, perturbed.stdout + perturbed.stderr);
    assert.match(perturbed.stdout, /orders changed the outcome/);
  });
});
