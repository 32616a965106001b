/**
 * Which peers can reach each other directly. The topology is reachability (a
 * NAT, a firewall, a LAN boundary), not a set of open connections: a link
 * outside it can never come up, so a line of peers must relay changes through
 * the peers in between (store and forward).
 */
import { assert } from '../core/assert.js';
import type { Rng } from '../core/rng.js';
import type { Topology } from './knobs.js';

/** An undirected edge, smaller index first. */
export type Edge = readonly [number, number];

const edge = (a: number, b: number): Edge => (a < b ? [a, b] : [b, a]);

export function buildTopology(kind: Topology, n: number, rng: Rng): Edge[] {
  assert(n >= 2, 'a topology needs at least two peers');
  const edges: Edge[] = [];
  switch (kind) {
    case 'line':
      for (let i = 1; i < n; i++) edges.push(edge(i - 1, i));
      break;
    case 'star':
      for (let i = 1; i < n; i++) edges.push(edge(0, i));
      break;
    case 'ring':
      for (let i = 1; i < n; i++) edges.push(edge(i - 1, i));
      if (n > 2) edges.push(edge(0, n - 1));
      break;
    case 'full':
      for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) edges.push(edge(a, b));
      break;
    case 'random':
      return randomConnected(n, rng);
  }
  return edges;
}

/** A random spanning tree plus a few extra edges: always connected. */
function randomConnected(n: number, rng: Rng): Edge[] {
  const keys = new Set<string>();
  const edges: Edge[] = [];
  const add = (a: number, b: number): void => {
    const e = edge(a, b);
    const k = `${e[0]}-${e[1]}`;
    if (a === b || keys.has(k)) return;
    keys.add(k);
    edges.push(e);
  };
  for (let i = 1; i < n; i++) add(i, rng.int(i));
  const extra = rng.int(n);
  for (let i = 0; i < extra; i++) add(rng.int(n), rng.int(n));
  return edges.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
}

export const edgeKey = (a: number, b: number): string => (a < b ? `${a}-${b}` : `${b}-${a}`);

/** True when every peer can reach every other through the edges. */
export function isConnected(n: number, edges: readonly Edge[]): boolean {
  const adjacent = neighbours(n, edges);
  const seen = new Set<number>([0]);
  const todo = [0];
  while (todo.length > 0) {
    const p = todo.pop() as number;
    for (const q of adjacent[p] ?? []) if (!seen.has(q)) (seen.add(q), todo.push(q));
  }
  return seen.size === n;
}

export function neighbours(n: number, edges: readonly Edge[]): number[][] {
  const out: number[][] = Array.from({ length: n }, () => []);
  for (const [a, b] of edges) {
    out[a]?.push(b);
    out[b]?.push(a);
  }
  return out;
}
