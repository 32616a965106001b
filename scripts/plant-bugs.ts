/**
 * Plant each bug the checkers must catch and report how many seeds each took:
 *
 *   node --import tsx scripts/plant-bugs.ts [--first N] [--max N] [--json]
 *
 * Bugs (src/sim/bugs.ts): drop-tombstones, no-conflict-copy, apply-duplicates,
 * skip-hash-check. A seed counts only if the bug makes it break an invariant
 * the same seed does not break without the bug. Exit 1 if a bug survives
 * `--max` seeds (default 1,000).
 */
import { hunt } from '../src/sim/bite.js';
import { simulate } from '../src/sim/index.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
};
const json = process.argv.includes('--json');
const started = performance.now();
const catches = await hunt(simulate, {
  firstSeed: arg('--first', 1),
  seedsMax: arg('--max', 1000),
  onSeed: (seed) => {
    if (!json && seed % 10 === 0) process.stderr.write(`  ... seed ${seed}\n`);
  },
});
const wallSeconds = Math.round((performance.now() - started) / 1000);
if (json) {
  process.stdout.write(`${JSON.stringify({ catches, wallSeconds })}\n`);
} else {
  for (const c of catches) {
    process.stdout.write(
      c.seedsTried === null
        ? `${c.bug}: NOT caught\n`
        : `${c.bug}: caught after ${c.seedsTried} seed(s) (seed ${c.seed}) by ${c.invariant}: ${(c.message ?? '').slice(0, 200)}\n  replay: ${c.replay}\n`,
    );
  }
  process.stdout.write(`(${wallSeconds} s)\n`);
}
process.exitCode = catches.every((c) => c.seedsTried !== null) ? 0 : 1;
