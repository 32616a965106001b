import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRng } from '../../../src/core/rng.js';
import { nodeHasher } from '../../../src/store/node-ports.js';
import { SimDisk } from '../../../src/sim/disk.js';
import { deriveKnobs, workloadOps } from '../../../src/sim/knobs.js';
import { isConflictCopy, Workload } from '../../../src/sim/workload.js';

function play(seed: number, actions: number) {
  const knobs = deriveKnobs(seed).workload;
  const all = { ...knobs, mix: Object.fromEntries(workloadOps.map((op) => [op, 1])) as typeof knobs.mix };
  const w = new Workload(all, seededRng(seed));
  const disks = [0, 1, 2].map((peer) => ({ peer, disk: new SimDisk(nodeHasher) }));
  disks[0]?.disk.put('x.ploppy-conflict-20260101-000000-01234567', { type: 'file', data: new Uint8Array([1]), mode: 6, mtimeMs: 0 }, true);
  const ops = new Set<string>();
  const log: string[] = [];
  for (let i = 0; i < actions; i++) {
    for (const e of w.act(disks, i)) {
      ops.add(e.op);
      log.push(`${e.peer} ${e.op} ${e.detail}`);
      for (const p of [...e.touched, ...e.moves.flat()]) assert.ok(!isConflictCopy(p), `users leave conflict copies alone: ${p}`);
      const disk = disks[e.peer]?.disk as SimDisk;
      for (const p of disk.paths()) {
        const parent = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : null;
        if (parent !== null) assert.equal(disk.get(parent)?.type, 'directory', `${p} has a directory for a parent`);
      }
    }
  }
  return { ops, log, trees: disks.map((d) => d.disk.snapshot().join('\n')) };
}

test('the workload is deterministic and exercises every kind of edit', () => {
  const a = play(11, 400);
  assert.deepEqual(play(11, 400), a);
  assert.deepEqual([...a.ops].sort(), [...workloadOps].sort());
  assert.notDeepEqual(play(12, 400).log, a.log);
});
