/**
 * Real daemons under trouble: kill -9 in the middle of a large transfer,
 * concurrent edits while two peers are cut off from each other, and a peer
 * with the wrong secret.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { alive, cleanup, createPeer, describePeers, joinPeer, kill9, run, runJson, startPeer, stopPeer, treeDigest, treesEqual, waitFor, type Peer } from './helpers.js';

const all: Peer[] = [];
after(async () => cleanup(all));

/** The peer's BlockVerified events (read from its log, offline or through the daemon) and its log head. */
async function blockEvents(peer: Peer): Promise<{ head: number; events: { seq: number; hash: string; from: string | null }[] }> {
  const r = await run(peer, ['log', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const records = r.stdout.trim().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { seq: number; type: string; data: { hash?: string; from?: string | null } });
  const events = records.filter((e) => e.type === 'BlockVerified').map((e) => ({ seq: e.seq, hash: e.data.hash ?? '', from: e.data.from ?? null }));
  return { head: records.at(-1)?.seq ?? 0, events };
}

describe('kill -9 during a large transfer', { timeout: 240_000 }, () => {
  it('resumes after `ploppy start` and the content verifies', async () => {
    const a = await createPeer('ka');
    all.push(a);
    const data = randomBytes(200 * 1024 * 1024);
    writeFileSync(join(a.dir, 'large.bin'), data);
    const b = await joinPeer('kb', a);
    all.push(b);
    await waitFor('B to start receiving blocks', async () => {
      const s = await runJson<{ rows: { path: string; state: string; blocksDone: number; blocksTotal: number }[] }>(b, ['status']).catch(() => null);
      const row = s?.rows.find((r) => r.path === 'large.bin');
      return row !== undefined && row.state === 'downloading' && row.blocksDone > 0;
    }, 120_000);
    kill9(b);
    await waitFor('B to die', () => !alive(b.pid), 10_000);
    assert.ok(!existsSync(join(b.dir, 'large.bin')) || statSync(join(b.dir, 'large.bin')).size !== data.length || !readFileSync(join(b.dir, 'large.bin')).equals(data),
      'the transfer was really interrupted (the test must kill mid-transfer)');
    const headBefore = (await blockEvents(b)).head;
    await startPeer(b);
    await waitFor('large.bin complete on B', () => treesEqual([a, b]), 180_000, () => describePeers([a, b]));
    assert.ok(readFileSync(join(b.dir, 'large.bin')).equals(data), 'content verified byte for byte');
    const staging = join(b.dir, '.ploppy-tmp-staging');
    const temps = [...readdirSync(b.dir).filter((n) => n.startsWith('.ploppy-tmp-') && n !== '.ploppy-tmp-staging'), ...(existsSync(staging) ? readdirSync(staging) : [])];
    assert.deepEqual(temps, [], 'no temp file left behind');
    // What the killed process wrote to its temp file was kept, not fetched again.
    // (Random data: no block of it is anywhere else on B, so a block verified from no peer was kept.)
    const after = (await blockEvents(b)).events.filter((e) => e.seq > headBefore);
    const kept = new Set(after.filter((e) => e.from === null).map((e) => e.hash));
    const fetched = new Set(after.filter((e) => e.from !== null).map((e) => e.hash));
    const blocks = data.length / (128 * 1024);
    console.log(`after the restart: ${kept.size} blocks kept from the temp file, ${fetched.size} fetched`);
    assert.ok(kept.size > 0, `blocks kept from the temp file after the restart: ${kept.size}`);
    assert.equal(new Set([...kept, ...fetched]).size, blocks, `every one of the file's ${blocks} blocks was kept or fetched after the restart`);
    const replay = await run(b, ['replay']);
    assert.equal(replay.code, 0, `replay after the crash agrees: ${replay.stdout}${replay.stderr}`);
  });
});

describe('concurrent edits while cut off', { timeout: 240_000 }, () => {
  it('keeps one winner at the path and the other as an identical conflict copy everywhere', async () => {
    const a = await createPeer('ca');
    all.push(a);
    const b = await joinPeer('cb', a);
    all.push(b);
    writeFileSync(join(a.dir, 'notes.txt'), 'original\n');
    await waitFor('notes.txt on B', () => treesEqual([a, b]) && existsSync(join(b.dir, 'notes.txt')));
    await stopPeer(b); // cut off: B is down while both edit
    writeFileSync(join(a.dir, 'notes.txt'), 'edited on A\n');
    await waitFor('A to record its edit', async () => {
      const r = await run(a, ['log', '--type', 'LocalFileChanged', '--path', 'notes.txt', '--json']);
      return r.stdout.trim().split('\n').length >= 2;
    });
    writeFileSync(join(b.dir, 'notes.txt'), 'edited on B\n');
    await startPeer(b);
    await waitFor('both sides to hold the path and one conflict copy', () => {
      if (!treesEqual([a, b])) return false;
      return readdirSync(a.dir).filter((n) => n.includes('.ploppy-conflict-')).length === 1;
    }, 120_000);
    const names = readdirSync(a.dir).sort();
    const copy = names.find((n) => n.includes('.ploppy-conflict-')) as string;
    assert.match(copy, /^notes\.ploppy-conflict-\d{8}-\d{6}-[0-9a-f]{8}\.txt$/);
    const contents = new Set([readFileSync(join(a.dir, 'notes.txt'), 'utf8'), readFileSync(join(a.dir, copy), 'utf8')]);
    assert.deepEqual(contents, new Set(['edited on A\n', 'edited on B\n']), 'both versions kept, one at the path, one as the copy');
    assert.equal(treeDigest(a.dir), treeDigest(b.dir));
    for (const p of [a, b]) {
      const conflicts = await runJson<{ path: string; copyPath: string }[]>(p, ['conflicts']);
      assert.deepEqual(conflicts.map((c) => [c.path, c.copyPath]), [['notes.txt', copy]], `${p.label} lists the conflict`);
    }
    const resolved = await run(a, ['resolve', 'notes.txt', '--keep', 'winner']);
    assert.equal(resolved.code, 0, resolved.stderr);
    await waitFor('the resolution to reach B', async () => {
      const c = await runJson<unknown[]>(b, ['conflicts']);
      return c.length === 0 && !existsSync(join(b.dir, copy)) && treesEqual([a, b]);
    });
  });
});

describe('a wrong secret', { timeout: 120_000 }, () => {
  it('is refused on both sides and receives nothing', async () => {
    const a = await createPeer('sa', { secret: 'the-right-secret' });
    all.push(a);
    writeFileSync(join(a.dir, 'private.txt'), 'not for strangers\n');
    const b = await joinPeer('sb', a, { secret: 'a-wrong-secret' });
    all.push(b);
    const logOf = (p: Peer): string => {
      try {
        return readFileSync(join(p.home, 'networks/net/daemon.log'), 'utf8');
      } catch {
        return '';
      }
    };
    await waitFor('both daemons to report the refusal', () => /SECRET_REJECTED/.test(logOf(a)) && /SECRET_REJECTED/.test(logOf(b)), 60_000);
    assert.match(logOf(b), /wrong network secret|SECRET_REJECTED/);
    assert.deepEqual(readdirSync(b.dir), [], 'nothing reached the peer with the wrong secret');
    const network = await runJson<{ reachability: string }[]>(b, ['network']);
    assert.ok(network.every((r) => r.reachability === 'self' || r.reachability === 'gone'), 'B reaches nobody');
  });
});
