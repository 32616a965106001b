/**
 * Message ids seen recently. Cascading messages (ICANSEE, IKNOWABOUT, ICANTSEE,
 * RESOLVED, SEARCH) keep their id as they travel, so remembering ids is what
 * makes every cascade end; it also makes a duplicated message a no-op.
 *
 * Bounded twice: an id is forgotten after `ttlMs`, and the oldest ids go first
 * when more than `max` are held. Entries are kept in insertion order, which is
 * expiry order because time only moves forward, so eviction looks at the front
 * only.
 */
import { seenMessageTtlMs, seenMessagesMax } from '../core/constants.js';

export class SeenMessages<V = true> {
  private readonly entries = new Map<string, { expiresMs: number; value: V }>();

  constructor(
    private readonly ttlMs: number = seenMessageTtlMs,
    private readonly max: number = seenMessagesMax,
  ) {}

  /** Remember `id` (with a value); false when it was already known (a duplicate). */
  add(id: string, nowMs: number, value: V): boolean {
    this.evict(nowMs);
    if (this.entries.has(id)) return false;
    this.entries.set(id, { expiresMs: nowMs + this.ttlMs, value });
    return true;
  }

  get(id: string, nowMs: number): V | undefined {
    this.evict(nowMs);
    return this.entries.get(id)?.value;
  }

  get size(): number {
    return this.entries.size;
  }

  private evict(nowMs: number): void {
    for (const [id, entry] of this.entries) {
      if (entry.expiresMs > nowMs && this.entries.size < this.max) return;
      this.entries.delete(id);
    }
  }
}
