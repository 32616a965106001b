/**
 * `node --import tsx bench/sync/profile-summary.ts FILE.cpuprofile [TOP]`
 *
 * Where a daemon's CPU went, from a V8 CPU profile (`npm run bench -- sync
 * --profile DIR` writes one per daemon): self time by function and by file,
 * and inclusive time of the heaviest call paths' functions.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

const shortUrl = (url: string): string => url.replace(/^file:\/\/.*?\/(src|node_modules|bench)\//, '$1/').replace(/^node:/, 'node:');

function main(file: string, top: number): void {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  p.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const totalUs = p.endTime - p.startTime;
  const label = (n: ProfileNode): string => `${n.callFrame.functionName || '(anonymous)'} ${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
  const bySelf = new Map<string, number>();
  const byFile = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id) as ProfileNode;
    bySelf.set(label(n), (bySelf.get(label(n)) ?? 0) + us);
    const f = shortUrl(n.callFrame.url) || n.callFrame.functionName;
    byFile.set(f, (byFile.get(f) ?? 0) + us);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const l = label(byId.get(at) as ProfileNode);
      if (seen.has(l)) continue;
      seen.add(l);
      inclusive.set(l, (inclusive.get(l) ?? 0) + us);
    }
  }
  const show = (title: string, m: Map<string, number>): void => {
    console.log(`\n${title}`);
    for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      console.log(`${(us / 1000).toFixed(0).padStart(8)} ms ${((100 * us) / totalUs).toFixed(1).padStart(5)}%  ${k}`);
    }
  };
  console.log(`${file}: ${(totalUs / 1e6).toFixed(2)} s profiled`);
  show('self time by function', bySelf);
  show('self time by file', byFile);
  show('inclusive time by function', inclusive);
}

main(process.argv[2] as string, Number(process.argv[3] ?? 30));
