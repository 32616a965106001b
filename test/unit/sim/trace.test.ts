/**
 * The trace hash is SHA-256 over every line, each followed by a newline,
 * however the lines are chunked on their way to the hash, and a digest taken
 * midway neither loses nor repeats lines.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { Trace } from '../../../src/sim/trace.js';

const sha = (lines: readonly string[]): string => createHash('sha256').update(lines.map((l) => `${l}\n`).join('')).digest('hex');

test('trace digest: SHA-256 of the lines, across chunk boundaries and midway digests', () => {
  const t = new Trace(5, false);
  const lines: string[] = [];
  assert.equal(t.digest(), sha([]));
  for (let i = 0; i < 5000; i++) {
    const line = `${i} p${i % 7} ${'x'.repeat(i % 97)} é ${i}`;
    lines.push(line);
    t.add(line);
    if (i % 1234 === 0) assert.equal(t.digest(), sha(lines), `after ${i + 1} lines`);
  }
  assert.equal(t.digest(), sha(lines));
  assert.equal(t.lines, 5000);
  assert.deepEqual(t.tail(), lines.slice(-5));
});
