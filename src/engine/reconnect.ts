/**
 * Reconnecting: which addresses we want a connection to, and when to try
 * next. The delay doubles per failed attempt from reconnectDelayMinMs up to
 * reconnectDelayMaxMs, with no jitter (the engine has no randomness; the
 * transport may add its own), so a run is reproducible from its inputs.
 *
 * Only one side of a lost link redials (the one with the smaller peer id),
 * so two peers do not race to open two connections; the join address is
 * always redialled while we have no link at all.
 */
import { reconnectDelayMaxMs, reconnectDelayMinMs } from '../core/constants.js';

interface Target {
  attempt: number;
  dueMs: number;
}

export const reconnectDelayMs = (attempt: number): number =>
  Math.min(reconnectDelayMaxMs, reconnectDelayMinMs * 2 ** Math.min(attempt, 30));

export class Reconnects {
  private readonly targets = new Map<string, Target>();
  /** The time the 'reconnect' timer is armed for, or null. */
  armedMs: number | null = null;

  /** Want a connection to `address`; the first try is after the minimum delay. */
  want(address: string, nowMs: number): void {
    if (address === '' || this.targets.has(address)) return;
    this.targets.set(address, { attempt: 0, dueMs: nowMs + reconnectDelayMs(0) });
  }

  /** Connected (or no longer wanted). */
  drop(address: string): void {
    this.targets.delete(address);
  }

  clear(): void {
    this.targets.clear();
  }

  /** Addresses due now; each is rescheduled with a longer delay. */
  due(nowMs: number): string[] {
    const out: string[] = [];
    for (const [address, t] of this.targets) {
      if (t.dueMs > nowMs) continue;
      out.push(address);
      t.attempt++;
      t.dueMs = nowMs + reconnectDelayMs(t.attempt);
    }
    return out;
  }

  /** When the next address is due, or null. */
  nextDueMs(): number | null {
    let next: number | null = null;
    for (const t of this.targets.values()) if (next === null || t.dueMs < next) next = t.dueMs;
    return next;
  }

  has(address: string): boolean {
    return this.targets.has(address);
  }
}
