/**
 * Run a sweep and pin every failing seed: `node --import tsx test/sim/pin-failures.ts [FIRST] [COUNT]`
 * adds each new failure (seed, invariant, why) to pinned-seeds.json, so the
 * CI test runs it first from then on. Seeds already pinned keep their entry.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { runSeeds, summarise } from './pool.js';

const file = new URL('./pinned-seeds.json', import.meta.url);
const first = Number(process.argv[2] ?? 1);
const count = Number(process.argv[3] ?? 1000);
const doc = JSON.parse(readFileSync(file, 'utf8')) as { note: string; seeds: { seed: number; invariant: string; why: string; found: string }[] };
const started = performance.now();
const outcomes = await runSeeds(Array.from({ length: count }, (_, i) => ({ seed: first + i })));
const known = new Set(doc.seeds.map((s) => s.seed));
const today = new Date().toISOString().slice(0, 10);
for (const o of outcomes) {
  if (o.ok || known.has(o.seed)) continue;
  doc.seeds.push({ seed: o.seed, invariant: o.invariant ?? '?', why: (o.message ?? '').slice(0, 240), found: today });
}
doc.seeds.sort((a, b) => a.seed - b.seed);
writeFileSync(file, `{\n "note": ${JSON.stringify(doc.note)},\n "seeds": [\n${doc.seeds.map((x) => `  ${JSON.stringify(x)}`).join(',\n')}\n ]\n}\n`);
console.log(summarise(outcomes));
console.log(`wall ${Math.round((performance.now() - started) / 1000)} s; ${doc.seeds.length} seeds pinned`);
