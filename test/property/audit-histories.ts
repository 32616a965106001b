/**
 * Random histories for the audit properties: three real engines in memory
 * (the engine tests' harness), A created, B and C joined, driven by a
 * fast-check list of user edits, connections, cuts, deliveries and clock
 * steps. Operations that make no sense at that moment (renaming a file that
 * is not there) are skipped, so every list is a valid history and shrinks to
 * a shorter one.
 */
import fc from 'fast-check';
import type { RecordedEvent } from '../../src/events/types.js';
import { TestNet, type TestNode } from '../unit/engine/harness.js';
import { recorded } from '../unit/audit/scenarios.js';

const peerIds = ['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb', 'cccccccccccccccc'] as const;
const files = ['f.txt', 'g.txt', 'h.txt'] as const;

export type Op =
  | { kind: 'write'; peer: number; file: string; content: string }
  | { kind: 'remove'; peer: number; file: string }
  | { kind: 'rename'; peer: number; from: string; to: string }
  | { kind: 'connect' | 'cut'; a: number; b: number }
  | { kind: 'run' }
  | { kind: 'advance'; ms: number };

const peerArb = fc.integer({ min: 0, max: 2 });
const fileArb = fc.constantFrom(...files);

export const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('write' as const), peer: peerArb, file: fileArb, content: fc.string({ unit: fc.constantFrom('x', 'y', 'z'), maxLength: 9 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), peer: peerArb, file: fileArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('rename' as const), peer: peerArb, from: fileArb, to: fileArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('connect' as const, 'cut' as const), a: peerArb, b: peerArb }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'run' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 20_000 }) }) },
);

/** Histories start on a line A - B - C (so versions get relayed), then anything goes. */
export const historyArb: fc.Arbitrary<Op[]> = fc.array(opArb, { minLength: 1, maxLength: 40 }).map((ops) => [
  { kind: 'connect', a: 0, b: 1 },
  { kind: 'connect', a: 1, b: 2 },
  { kind: 'run' },
  ...ops,
]);

export interface History {
  readonly net: TestNet;
  readonly nodes: readonly TestNode[];
}

/** Play the ops; the network is run (and the clock moved past every timer that matters) at the end. */
export function play(ops: readonly Op[], options: { settle?: boolean } = {}): History {
  const net = new TestNet(7);
  const nodes = peerIds.map((id, i) => net.add(id, i === 0 ? { create: true } : {}));
  const node = (i: number): TestNode => nodes[i] as TestNode;
  for (const op of ops) {
    switch (op.kind) {
      case 'write':
        node(op.peer).write(op.file, op.content);
        break;
      case 'remove':
        if (node(op.peer).disk.has(op.file)) node(op.peer).remove(op.file);
        break;
      case 'rename':
        if (op.from !== op.to && node(op.peer).disk.has(op.from) && !node(op.peer).disk.has(op.to)) node(op.peer).rename(op.from, op.to);
        break;
      case 'connect':
        if (op.a !== op.b && !net.linked(node(op.a).id, node(op.b).id)) net.connect(node(op.a), node(op.b));
        break;
      case 'cut':
        if (op.a !== op.b) net.cut(node(op.a).id, node(op.b).id);
        break;
      case 'run':
        net.run();
        break;
      case 'advance':
        net.advance(op.ms);
        break;
    }
  }
  if (options.settle !== false) {
    net.run();
    net.advance(30_000);
  }
  return { net, nodes };
}

/** Every peer's log, with its hash chain. */
export async function logsOf(h: History): Promise<RecordedEvent[][]> {
  const out: RecordedEvent[][] = [];
  for (const n of h.nodes) out.push(await recorded(n.log));
  return out;
}

/** A failing history printed so it can be replayed by hand. */
export const describeOps = (ops: readonly Op[]): string => JSON.stringify(ops);
