import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { filePlansGatheringMax } from '../../../src/core/constants.js';
import type { Volatile } from '../../../src/engine/context.js';
import { TestNet, A, B, type TestNode } from './harness.js';

const plansOf = (node: TestNode) => (node.engine as unknown as { vol: Volatile }).vol.plans;

/** File plans of `node` in phase 'blocks' (copying, fetching or writing). */
function gathering(node: TestNode): number {
  let n = 0;
  for (const plan of plansOf(node).byPath.values()) if (plan.phase === 'blocks' && plan.version.type === 'file') n++;
  return n;
}

function mkdir(node: TestNode, path: string): void {
  node.disk.set(path, { type: 'directory', mode: 7 });
  node.handle({ kind: 'local', change: node.observe(path) });
}

/** A with `files` files in five directories (one of them seen after its files), and B not yet connected. */
function manyFiles(files: number): { net: TestNet; a: TestNode; b: TestNode } {
  const net = new TestNet();
  const a = net.add(A, { create: true });
  const b = net.add(B);
  for (let d = 0; d < 4; d++) mkdir(a, `d${d}`);
  for (let i = 0; i < files; i++) a.write(`d${i % 5}/f${i}.txt`, `file ${i} ${'x'.repeat(i % 13)}`);
  mkdir(a, 'd4');
  return { net, a, b };
}

describe('engine: a receiver of many files', () => {
  const files = 2 * filePlansGatheringMax + 37;

  it(`gathers blocks for at most ${filePlansGatheringMax} files at once, and every file still arrives`, () => {
    const { net, a, b } = manyFiles(files);
    net.connect(a, b);
    let peakGathering = 0;
    let peakQueued = 0;
    while (net.step()) {
      const plans = plansOf(b);
      const live = gathering(b);
      assert.ok(live <= filePlansGatheringMax, `${live} file plans gathering`);
      assert.equal(plans.gathering.size, live, 'the gathering set is the file plans in phase blocks');
      peakGathering = Math.max(peakGathering, live);
      peakQueued = Math.max(peakQueued, plans.queued.size);
    }
    assert.equal(peakGathering, filePlansGatheringMax, 'the bound was reached');
    assert.ok(peakQueued >= files - filePlansGatheringMax, `transfers waited (at most ${peakQueued} at once)`);
    assert.deepEqual(b.tree(), a.tree());
    assert.equal(b.state.transfers.size, 0);
    assert.equal(plansOf(b).queued.size, 0);
    assert.equal(plansOf(b).byPath.size, 0);
  });

  it('announces none of them back to the peer that announced them, queued or not', () => {
    const { net, a, b } = manyFiles(files);
    net.connect(a, b);
    net.run();
    assert.deepEqual(b.tree(), a.tree());
    const announcedBack = b.sent.filter((s) => s.to === a.id && s.msg.cmd === 'IHAVE').reduce((n, s) => n + (s.msg.cmd === 'IHAVE' ? s.msg.files.length : 0), 0);
    assert.equal(announcedBack, 0);
  });

  it('starts the queued transfers again after a restart', () => {
    const { net, a, b } = manyFiles(files);
    net.connect(a, b);
    while (net.step() && !(plansOf(b).queued.size > 0 && b.state.files.size > 100));
    assert.ok(plansOf(b).queued.size > 0, 'transfers were queued when B stopped');
    b.restart();
    assert.ok(b.state.transfers.size > filePlansGatheringMax);
    net.connect(a, b);
    net.run();
    assert.deepEqual(b.tree(), a.tree());
    assert.equal(b.state.transfers.size, 0);
  });
});
