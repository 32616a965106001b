/**
 * `node --max-old-space-size=6000 --import tsx bench/sync/heap-summary.ts FILE.heapsnapshot [TOP]`
 *
 * What a daemon's JS heap holds, from a V8 heap snapshot (take one of a
 * running daemon with `--daemon-node-flags="--heapsnapshot-signal=SIGUSR2
 * --diagnostic-dir=DIR"` and `kill -USR2 PID`): self size and count by
 * constructor, and the heaviest single objects by retained size (dominator
 * tree, weak edges ignored) with the dominator path that holds them (e.g. `Plans.byPath -> PlanMap -> ...`). Off-heap memory
 * (ArrayBuffer backing stores, LevelDB, worker threads) is not in a snapshot,
 * except for the byte lengths V8 attributes to "native" nodes.
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  readonly snapshot: {
    readonly meta: {
      readonly node_fields: readonly string[];
      readonly node_types: readonly [readonly string[], ...unknown[]];
      readonly edge_fields: readonly string[];
      readonly edge_types: readonly [readonly string[], ...unknown[]];
    };
  };
  readonly nodes: number[];
  readonly edges: number[];
  readonly strings: string[];
}

interface Graph {
  readonly n: number;
  readonly label: (i: number) => string;
  readonly selfSize: Float64Array;
  /** Forward edges (strong only), CSR: targets of i are edgeTo[first[i] .. first[i + 1]). */
  readonly first: Uint32Array;
  readonly edgeTo: Uint32Array;
  readonly edgeName: (e: number) => string;
}

function load(file: string): Graph {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const m = s.snapshot.meta;
  const nf = m.node_fields.length;
  const ef = m.edge_fields.length;
  const [nType, nName, nSelf, nEdges] = ['type', 'name', 'self_size', 'edge_count'].map((f) => m.node_fields.indexOf(f)) as [number, number, number, number];
  const [eType, eName, eTo] = ['type', 'name_or_index', 'to_node'].map((f) => m.edge_fields.indexOf(f)) as [number, number, number];
  const nodeTypes = m.node_types[0];
  const edgeTypes = m.edge_types[0];
  const n = s.nodes.length / nf;
  const selfSize = new Float64Array(n);
  const first = new Uint32Array(n + 1);
  const strong: number[] = [];
  const strongIdx: number[] = [];
  let e = 0;
  for (let i = 0; i < n; i++) {
    selfSize[i] = s.nodes[i * nf + nSelf] as number;
    first[i] = strong.length;
    const count = s.nodes[i * nf + nEdges] as number;
    for (let k = 0; k < count; k++, e++) {
      if (edgeTypes[s.edges[e * ef + eType] as number] === 'weak') continue;
      strong.push((s.edges[e * ef + eTo] as number) / nf);
      strongIdx.push(e);
    }
  }
  first[n] = strong.length;
  const label = (i: number): string => {
    const type = nodeTypes[s.nodes[i * nf + nType] as number] as string;
    const name = s.strings[s.nodes[i * nf + nName] as number] as string;
    if (type === 'object' || type === 'native' || type === 'synthetic') return name.length > 60 ? `${name.slice(0, 60)}…` : name;
    if (type === 'array' || type === 'hidden') return `(${type}) ${name.slice(0, 40)}`;
    return `(${type})`;
  };
  const edgeName = (k: number): string => {
    const idx = strongIdx[k] as number;
    const t = edgeTypes[s.edges[idx * ef + eType] as number];
    const v = s.edges[idx * ef + eName] as number;
    return t === 'element' || t === 'hidden' ? `[${v}]` : (s.strings[v] ?? '?');
  };
  return { n, label, selfSize, first, edgeTo: Uint32Array.from(strong), edgeName };
}

/** Immediate dominators from node 0 (Cooper, Harvey and Kennedy's iterative algorithm). */
function dominators(g: Graph): { idom: Int32Array; order: Uint32Array; reached: number } {
  const post = new Int32Array(g.n).fill(-1);
  const order = new Uint32Array(g.n); // postorder number -> node
  const stack: number[] = [0];
  const next = new Uint32Array(g.n);
  const seen = new Uint8Array(g.n);
  seen[0] = 1;
  let count = 0;
  for (let i = 0; i < g.n; i++) next[i] = g.first[i] as number;
  while (stack.length > 0) {
    const v = stack[stack.length - 1] as number;
    if ((next[v] as number) < (g.first[v + 1] as number)) {
      const w = g.edgeTo[next[v] as number] as number;
      next[v] = (next[v] as number) + 1;
      if (seen[w] === 0) {
        seen[w] = 1;
        stack.push(w);
      }
      continue;
    }
    stack.pop();
    post[v] = count;
    order[count++] = v;
  }
  const predFirst = new Uint32Array(g.n + 1);
  for (let v = 0; v < g.n; v++) if (post[v] as number >= 0) for (let k = g.first[v] as number; k < (g.first[v + 1] as number); k++) { const t = (g.edgeTo[k] as number) + 1; predFirst[t] = (predFirst[t] as number) + 1; }
  for (let i = 0; i < g.n; i++) predFirst[i + 1] = (predFirst[i + 1] as number) + (predFirst[i] as number);
  const pred = new Uint32Array(predFirst[g.n] as number);
  const fill = predFirst.slice(0, g.n);
  for (let v = 0; v < g.n; v++) if (post[v] as number >= 0) for (let k = g.first[v] as number; k < (g.first[v + 1] as number); k++) { const t = g.edgeTo[k] as number; pred[fill[t] as number] = v; fill[t] = (fill[t] as number) + 1; }
  const idom = new Int32Array(count).fill(-1); // by postorder number
  idom[count - 1] = count - 1;
  const intersect = (a: number, b: number): number => {
    while (a !== b) {
      while (a < b) a = idom[a] as number;
      while (b < a) b = idom[b] as number;
    }
    return a;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (let p = count - 2; p >= 0; p--) {
      const v = order[p] as number;
      let d = -1;
      for (let k = predFirst[v] as number; k < (predFirst[v + 1] as number); k++) {
        const q = post[pred[k] as number] as number;
        if (q < 0 || idom[q] === -1) continue;
        d = d === -1 ? q : intersect(q, d);
      }
      if (d !== -1 && idom[p] !== d) {
        idom[p] = d;
        changed = true;
      }
    }
  }
  return { idom, order: order.subarray(0, count), reached: count };
}

const mb = (bytes: number): string => (bytes / 1048576).toFixed(1).padStart(7);

function table(title: string, rows: Map<string, { count: number; bytes: number }>, top: number): void {
  console.log(`\n${title}`);
  for (const [k, r] of [...rows].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top)) console.log(`${mb(r.bytes)} MiB ${String(r.count).padStart(9)}  ${k}`);
}

function main(file: string, top: number): void {
  const g = load(file);
  const { idom, order, reached } = dominators(g);
  const retained = new Float64Array(reached);
  for (let p = 0; p < reached; p++) retained[p] = g.selfSize[order[p] as number] as number;
  for (let p = 0; p < reached - 1; p++) retained[idom[p] as number] = (retained[idom[p] as number] as number) + (retained[p] as number); // children come before parents in postorder
  let total = 0;
  const bySelf = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < g.n; i++) {
    total += g.selfSize[i] as number;
    const r = bySelf.get(g.label(i)) ?? { count: 0, bytes: 0 };
    r.count++;
    r.bytes += g.selfSize[i] as number;
    bySelf.set(g.label(i), r);
  }
  console.log(`${g.n} nodes, ${mb(total)} MiB self size in all, ${reached} reachable by strong edges`);
  table('self size by constructor', bySelf, top);
  console.log('\nheaviest objects, with the dominator path that holds them');
  // An object most of whose retained size one child holds is left out: the child says more.
  const biggestChild = new Float64Array(reached);
  const children = new Uint32Array(reached);
  for (let p = 0; p < reached - 1; p++) {
    const d = idom[p] as number;
    biggestChild[d] = Math.max(biggestChild[d] as number, retained[p] as number);
    children[d] = (children[d] as number) + 1;
  }
  const heavy = [...Array(reached - 1).keys()]
    .filter((p) => (biggestChild[p] as number) < 0.8 * (retained[p] as number))
    .sort((a, b) => (retained[b] as number) - (retained[a] as number))
    .slice(0, top);
  for (const p of heavy) console.log(`${mb(retained[p] as number)} MiB ${String(children[p]).padStart(7)} held  ${path(g, idom, order, p)}`);
}

/** The dominator chain from the root to `p`, each step named by an edge from its dominator when there is one. */
function path(g: Graph, idom: Int32Array, order: Uint32Array, p: number): string {
  const steps: string[] = [];
  for (let q = p; idom[q] !== q && steps.length < 8; q = idom[q] as number) {
    const v = order[q] as number;
    const d = order[idom[q] as number] as number;
    let via = '';
    for (let k = g.first[d] as number; k < (g.first[d + 1] as number); k++) if (g.edgeTo[k] === v) via = `.${g.edgeName(k)}`;
    steps.push(`${via} ${g.label(v)}`);
  }
  return steps.reverse().join(' ->');
}

main(process.argv[2] ?? '', Number(process.argv[3] ?? 25));
