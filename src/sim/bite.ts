/**
 * Proof that the checkers bite: plant each bug (bugs.ts) and run seeds until
 * a checker catches it.
 *
 * A seed catches a bug when the run with the bug breaks one of the invariants
 * that bug threatens and the same seed without the bug does not break that
 * invariant: a failure the engine would have had anyway, or an unrelated one
 * the bug merely stirred up by changing the run's course, proves nothing
 * about the checkers. The clean run of each seed is shared by every bug.
 */
import { bugNames, type BugName } from './bugs.js';
import type { InvariantName } from './world.js';
import type { SimOptions, SimResult } from './run.js';

export interface Catch {
  readonly bug: BugName;
  /** Seeds tried until it was caught (1 = the first seed), or null when not caught. */
  readonly seedsTried: number | null;
  readonly seed: number | null;
  readonly invariant: InvariantName | null;
  readonly message: string | null;
  readonly replay: string | null;
}

export type Simulate = (options: Omit<SimOptions, 'createEngine'>) => Promise<SimResult>;

/** What each planted bug threatens (DESIGN.md "Invariants"). */
export const threatens: Readonly<Record<BugName, readonly InvariantName[]>> = {
  'drop-tombstones': ['no-resurrection', 'convergence'],
  'no-conflict-copy': ['no-lost-write', 'convergence'],
  'apply-duplicates': ['idempotence', 'termination'],
  'skip-hash-check': ['integrity'],
};

/** The threatened invariants the run with the bug broke and the clean run did not. */
function newlyBroken(bug: BugName, clean: SimResult, bugged: SimResult): InvariantName[] {
  const before = new Set(clean.violations.map((v) => v.invariant));
  return [...new Set(bugged.violations.map((v) => v.invariant))].filter((i) => !before.has(i) && threatens[bug].includes(i));
}

export async function hunt(
  simulate: Simulate,
  options: { readonly firstSeed?: number; readonly seedsMax?: number; readonly bugs?: readonly BugName[]; readonly onSeed?: (seed: number) => void } = {},
): Promise<Catch[]> {
  const first = options.firstSeed ?? 1;
  const max = options.seedsMax ?? 1000;
  const open = new Set<BugName>(options.bugs ?? bugNames);
  const caught = new Map<BugName, Catch>();
  for (let i = 0; i < max && open.size > 0; i++) {
    const seed = first + i;
    options.onSeed?.(seed);
    const clean = await simulate({ seed, reportDir: null });
    for (const bug of [...open]) {
      const bugged = await simulate({ seed, bugs: [bug], reportDir: null });
      const fresh = newlyBroken(bug, clean, bugged);
      if (bugged.ok || fresh.length === 0) continue;
      const v = bugged.violations.find((x) => x.invariant === fresh[0]);
      caught.set(bug, { bug, seedsTried: i + 1, seed, invariant: v?.invariant ?? null, message: v?.message ?? null, replay: bugged.replay });
      open.delete(bug);
    }
  }
  return (options.bugs ?? bugNames).map(
    (bug) => caught.get(bug) ?? { bug, seedsTried: null, seed: null, invariant: null, message: null, replay: null },
  );
}
