/**
 * Scripted histories for the audit tests, run in memory with real engines
 * (the engine tests' harness): an edit relayed through a middle peer, a
 * concurrent edit, an edit against a delete, and a rename. Each returns the
 * peers' logs as recorded events with their hash chain, as `export` would
 * write them.
 */
import type { StampedEvent } from '../../../src/engine/types.js';
import type { RecordedEvent } from '../../../src/events/types.js';
import { evolveAll, initialState } from '../../../src/projections/state.js';
import { MemoryEventLog } from '../../../src/store/memory-event-log.js';
import { A, B, C, line, pair, pairApart, type TestNet, type TestNode } from '../engine/harness.js';

export { A, B, C };

/** Link stamped events into a hash chain through the in-memory store and read them back. */
export async function recorded(events: readonly StampedEvent[]): Promise<RecordedEvent[]> {
  const log = new MemoryEventLog();
  const state = evolveAll(initialState(), events);
  await log.write(events, state);
  const out: RecordedEvent[] = [];
  for await (const e of log.read()) out.push(e);
  await log.close();
  return out;
}

export interface Scenario {
  readonly net: TestNet;
  readonly nodes: Record<string, TestNode>;
  /** The path the scenario is about. */
  readonly path: string;
}

export async function logsOf(s: Scenario): Promise<Record<string, RecordedEvent[]>> {
  const out: Record<string, RecordedEvent[]> = {};
  for (const [name, node] of Object.entries(s.nodes)) out[name] = await recorded(node.log);
  return out;
}

/** A <- B <- C: C writes a file; A hears of it only through B. */
export function relayed(): Scenario {
  const { net, a, b, c } = line(1);
  net.run();
  net.advance(1000);
  c.write('notes.txt', 'written on C');
  net.run();
  net.advance(1000);
  c.write('notes.txt', 'edited on C');
  net.run();
  return { net, nodes: { a, b, c }, path: 'notes.txt' };
}

/** A and B share a file, edit it while apart (B later), then meet again. */
export function concurrentEdit(): Scenario {
  const { net, a, b } = pairApart(1);
  net.run();
  net.advance(1000);
  a.write('f.txt', 'edit by a');
  net.advance(1000);
  b.write('f.txt', 'edit by b');
  net.connect(a, b);
  net.run();
  net.advance(30_000);
  return { net, nodes: { a, b }, path: 'f.txt' };
}

/** A deletes a shared file while B, cut off, edits it: the edit wins. */
export function editAgainstDelete(): Scenario {
  const { net, a, b } = pair(1);
  a.write('doc.txt', 'shared');
  net.run();
  net.cut(a.id, b.id);
  net.run();
  net.advance(1000);
  a.remove('doc.txt');
  net.advance(1000);
  b.write('doc.txt', 'edited while A deleted it');
  net.connect(a, b);
  net.run();
  net.advance(30_000);
  return { net, nodes: { a, b }, path: 'doc.txt' };
}

/** A renames a shared file; B does the rename locally. */
export function renamed(): Scenario {
  const { net, a, b } = pair(1);
  a.write('old.txt', 'to be renamed');
  net.run();
  net.advance(1000);
  a.rename('old.txt', 'new.txt');
  net.run();
  net.advance(30_000);
  return { net, nodes: { a, b }, path: 'new.txt' };
}

/** A and B, connected, edit a shared file at nearly the same time: their announcements cross. */
export function crossedEdits(): Scenario {
  const { net, a, b } = pair(1);
  a.write('plan.txt', 'base');
  net.run();
  net.advance(1000);
  a.write('plan.txt', 'edit by a');
  net.advance(1000);
  b.write('plan.txt', 'edit by b');
  net.run();
  net.advance(30_000);
  return { net, nodes: { a, b }, path: 'plan.txt' };
}
