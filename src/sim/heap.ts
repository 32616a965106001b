/**
 * The simulator's agenda: a binary min-heap of items ordered by virtual time.
 * Ties are broken by insertion order (a sequence number), so two runs with the
 * same seed pop items in exactly the same order.
 */
import { assert } from '../core/assert.js';

export interface Scheduled<T> {
  readonly atMs: number;
  readonly seq: number;
  readonly item: T;
}

const before = <T>(a: Scheduled<T>, b: Scheduled<T>): boolean => a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);

export class EventHeap<T> {
  private readonly items: Scheduled<T>[] = [];
  private nextSeq = 0;

  get size(): number {
    return this.items.length;
  }

  push(atMs: number, item: T): void {
    assert(Number.isFinite(atMs), `heap time must be finite, got ${atMs}`);
    const entry: Scheduled<T> = { atMs, seq: this.nextSeq++, item };
    const a = this.items;
    a.push(entry);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = a[parent] as Scheduled<T>;
      if (!before(entry, p)) break;
      a[i] = p;
      i = parent;
    }
    a[i] = entry;
  }

  peek(): Scheduled<T> | undefined {
    return this.items[0];
  }

  pop(): Scheduled<T> | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (top === undefined || last === undefined || a.length === 0) return top;
    let i = 0;
    const n = a.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const child = r < n && before(a[r] as Scheduled<T>, a[l] as Scheduled<T>) ? r : l;
      const c = a[child] as Scheduled<T>;
      if (!before(c, last)) break;
      a[i] = c;
      i = child;
    }
    a[i] = last;
    return top;
  }

  /** Every scheduled item, in no particular order (for inspection, not for popping). */
  all(): readonly Scheduled<T>[] {
    return this.items;
  }
}
