/**
 * The deterministic workload of the crash test, shared by the writer child
 * process and the test that checks what survived: the same seed gives the same
 * writes, the same ids and stamps, and so the same hash chain.
 */
import { seededRng } from '../../src/core/rng.js';
import type { Event, RecordedEvent } from '../../src/events/types.js';
import { initialState, type State } from '../../src/projections/state.js';
import { appendEvents, stampEvents } from '../../src/store/append.js';
import type { EventLog } from '../../src/store/event-log.js';
import { MemoryEventLog } from '../../src/store/memory-event-log.js';
import { sampleEvents, stampContext } from '../unit/store/fixtures.js';

/** Plain events grouped as the writer issues them, one group per write(). */
export function crashWrites(seed: number, events: number): Event[][] {
  const rng = seededRng(seed);
  const writes: Event[][] = [];
  for (let next = 1; next <= events; ) {
    const size = Math.min(1 + rng.int(16), events - next + 1);
    writes.push(sampleEvents(next, size));
    next += size;
  }
  return writes;
}

/**
 * Issue every write of the workload to `log`, keeping up to `inFlight` writes
 * outstanding; `onDurable(seq)` hears each write's last sequence once durable.
 */
export async function runWorkload(log: EventLog, writes: readonly Event[][], inFlight: number, onDurable: (seq: number) => void): Promise<State> {
  const state = initialState();
  const ctx = stampContext();
  const outstanding: Promise<unknown>[] = [];
  for (const events of writes) {
    const stamped = stampEvents(log.head(), state.meta.hlc, events, ctx);
    const last = stamped[stamped.length - 1]?.seq as number;
    outstanding.push(appendEvents(log, state, stamped).then(() => onDurable(last)));
    if (outstanding.length >= inFlight) await outstanding.shift();
  }
  await Promise.all(outstanding);
  return state;
}

/** Every record the workload writes, as an uninterrupted run would store them. */
export async function expectedRecords(writes: readonly Event[][]): Promise<RecordedEvent[]> {
  const log = new MemoryEventLog();
  await runWorkload(log, writes, 1, () => {});
  const out: RecordedEvent[] = [];
  for await (const e of log.read()) out.push(e);
  return out;
}
