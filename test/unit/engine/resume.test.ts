/**
 * A transfer a restart interrupted: the blocks its temp file already holds are
 * kept (FsOp keepBlock), and only the rest is fetched again.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BlockHash } from '../../../src/core/ids.js';
import { pair, type TestNet, type TestNode } from './harness.js';

/** 40 bytes: ten 4-byte blocks, all different. */
const content = 'abcdefghijklmnopqrstuvwxyz0123456789ABCD';
const blocks = 10;

const written = (n: TestNode): number => n.ops.filter((o) => o.op === 'writeBlock').length;

const wanted = (n: TestNode): BlockHash[] => n.sent.flatMap((s) => (s.msg.cmd === 'IWANT' ? s.msg.hashes : []));

/** A sends big.txt to B; B stops (killed, or its machine crashed) once `before` blocks are in its temp file. */
function interrupted(before: number, keepTemps: boolean): { net: TestNet; a: TestNode; b: TestNode } {
  const { net, a, b } = pair();
  a.write('big.txt', content);
  while (written(b) < before) assert.ok(net.step(), 'the transfer ended before the interruption');
  assert.equal(b.read('big.txt'), undefined, 'not committed yet');
  b.restart({ keepTemps });
  b.sent.length = 0;
  b.ops.length = 0;
  b.log.length = 0;
  net.connect(a, b);
  net.run();
  net.advance(60_000);
  return { net, a, b };
}

describe('engine: a transfer a restart interrupted', () => {
  it('keeps the blocks the temp file holds and fetches only the others', () => {
    const { b } = interrupted(4, true);
    assert.equal(b.read('big.txt'), content);
    const kept = b.ops.filter((o) => o.op === 'keepBlock');
    assert.equal(kept.length, blocks, 'every block is looked for in the temp file first');
    const fetched = new Set(wanted(b));
    assert.ok(fetched.size <= blocks - 4, `${fetched.size} blocks fetched again, at most ${blocks - 4} were missing`);
    assert.ok(fetched.size > 0, 'the missing blocks are fetched');
    const keptHashes = new Set(b.log.flatMap((e) => (e.type === 'BlockVerified' && e.data.from === null ? [e.data.hash] : [])));
    for (const h of fetched) assert.ok(!keptHashes.has(h), 'a kept block is not fetched too');
    assert.equal(keptHashes.size + fetched.size, blocks);
  });

  it('fetches every block when the crash took the temp file with it', () => {
    const { b } = interrupted(4, false);
    assert.equal(b.read('big.txt'), content);
    assert.equal(new Set(wanted(b)).size, blocks);
  });

  it('looks in the temp file only for transfers the restart found under way', () => {
    const { net, a, b } = pair();
    a.write('big.txt', content);
    net.run();
    assert.equal(b.read('big.txt'), content);
    b.restart({ keepTemps: true });
    b.ops.length = 0;
    net.connect(a, b);
    a.write('next.txt', 'a second file, sent after the restart');
    net.run();
    assert.equal(b.read('next.txt'), 'a second file, sent after the restart');
    assert.deepEqual(b.ops.filter((o) => o.op === 'keepBlock'), []);
  });
});
