import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { EventHeap } from '../../../src/sim/heap.js';

test('pops in time order, ties in insertion order', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 200 }), (times) => {
      const h = new EventHeap<number>();
      times.forEach((t, i) => h.push(t, i));
      const out: number[] = [];
      for (let e = h.pop(); e !== undefined; e = h.pop()) out.push(e.item);
      const expected = times.map((t, i) => ({ t, i })).sort((a, b) => a.t - b.t || a.i - b.i).map((x) => x.i);
      assert.deepEqual(out, expected);
    }),
  );
});

test('interleaved pushes and pops keep the order', () => {
  const h = new EventHeap<string>();
  h.push(5, 'a');
  h.push(1, 'b');
  assert.equal(h.pop()?.item, 'b');
  h.push(5, 'c');
  h.push(0, 'd');
  assert.deepEqual([h.pop()?.item, h.pop()?.item, h.pop()?.item, h.pop()], ['d', 'a', 'c', undefined]);
  assert.equal(h.size, 0);
});

test('refuses a time that is not finite', () => {
  assert.throws(() => new EventHeap<number>().push(Number.NaN, 1), /finite/);
});
