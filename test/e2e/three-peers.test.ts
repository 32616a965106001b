/**
 * Three real daemons on loopback: A creates, B joins A, C joins B only (so C
 * hears about A's files through B). Everything created on any peer converges
 * byte-identical everywhere; then edits, deletes and renames on each peer do too.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cleanup, createPeer, describePeers, joinPeer, run, runJson, treeDigest, treesEqual, waitFor, type Peer } from './helpers.js';

describe('three peers on loopback (A <- B <- C)', { timeout: 300_000 }, () => {
  let a: Peer, b: Peer, c: Peer;
  const peers = (): Peer[] => [a, b, c];

  before(async () => {
    a = await createPeer('a');
    b = await joinPeer('b', a);
    c = await joinPeer('c', b);
  });
  after(async () => cleanup(peers().filter((p) => p !== undefined)));

  it('converges nested directories, empty files, a 50 MiB file, unicode names and the executable bit', async () => {
    mkdirSync(join(a.dir, 'deep/er/still'), { recursive: true });
    writeFileSync(join(a.dir, 'deep/er/still/leaf.txt'), 'leaf\n');
    writeFileSync(join(a.dir, 'empty'), '');
    writeFileSync(join(b.dir, 'big.bin'), randomBytes(50 * 1024 * 1024));
    writeFileSync(join(c.dir, 'héllo wörld ✓.txt'), 'unicode and spaces\n');
    writeFileSync(join(c.dir, 'run.sh'), '#!/bin/sh\necho hi\n');
    chmodSync(join(c.dir, 'run.sh'), 0o755);
    await waitFor('all trees identical with every file', () => treesEqual(peers()) && existsSync(join(a.dir, 'run.sh')) && existsSync(join(c.dir, 'big.bin')) && existsSync(join(c.dir, 'deep/er/still/leaf.txt')), 180_000, () => describePeers(peers()));
    const digest = treeDigest(a.dir);
    assert.match(digest, /run\.sh file 7 /, 'executable bit carried');
    assert.match(digest, /héllo wörld ✓\.txt file/);
    assert.match(digest, /^empty file 6 e3b0c442/m, 'empty file carried');
  });

  it('converges edits, deletes and renames made on each peer', async () => {
    writeFileSync(join(a.dir, 'deep/er/still/leaf.txt'), 'leaf, edited on A\n');
    rmSync(join(b.dir, 'empty'));
    renameSync(join(c.dir, 'run.sh'), join(c.dir, 'deep/run-renamed.sh'));
    await waitFor('edits, deletes and renames converge', () =>
      treesEqual(peers()) && !existsSync(join(a.dir, 'empty')) && existsSync(join(a.dir, 'deep/run-renamed.sh')) && !existsSync(join(a.dir, 'run.sh')),
    120_000, () => describePeers(peers()));
    const digest = treeDigest(b.dir);
    assert.match(digest, /deep\/run-renamed\.sh file 7 /);
    assert.doesNotMatch(digest, /^empty /m);
  });

  it('answers log and replay --verify while the daemons run, and exits 2 on a usage error', async () => {
    for (const p of peers()) {
      const replay = await run(p, ['replay', '--verify']);
      assert.equal(replay.code, 0, `${p.label}: ${replay.stdout}${replay.stderr}`);
      assert.match(replay.stdout, /hash chain: ok/);
      assert.match(replay.stdout, /decisions: \d+ inputs re-run, same decisions/);
    }
    const log = await run(c, ['log', '--json', '--type', 'FileCommitted', '--path', 'deep']);
    assert.equal(log.code, 0, log.stderr);
    const events = log.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; data: { path: string } });
    assert.ok(events.length > 0 && events.every((e) => e.type === 'FileCommitted' && e.data.path.startsWith('deep')), 'filtered by type and path');
    assert.equal((await run(c, ['status', '--no-such-flag'])).code, 2);
    assert.equal((await run(c, ['log', '--type', 'NoSuchEvent'])).code, 2);
  });

  it('reports every host and no transfer left behind', async () => {
    const status = await runJson<{ summary: { downloading: number; failed: number; files: number } }>(c, ['status']);
    assert.equal(status.summary.downloading, 0);
    assert.equal(status.summary.failed, 0);
    const hello = async (p: Peer) => (await runJson<{ peer: string; reachability: string }[]>(p, ['network'])).find((r) => r.reachability === 'self')?.peer;
    const [idA, idB] = [await hello(a), await hello(b)];
    const network = await runJson<{ peer: string; reachability: string }[]>(c, ['network']);
    assert.equal(network.find((r) => r.peer === idB)?.reachability, 'direct', 'C talks to B directly');
    assert.ok(network.some((r) => r.peer === idA && r.reachability !== 'gone'), 'C knows about A through B');
  });
});
