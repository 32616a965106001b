/**
 * The simulator in CI: the real engine and projections, seeded faults, every
 * invariant checked.
 *
 * - Pinned seeds (every seed that ever failed, pinned-seeds.json) run first.
 * - Then a sweep of SIM_SEEDS seeds (default 1,000; 3-8 peers each, as the
 *   seed chooses), across worker threads. A failure prints the seed, the
 *   broken invariant and the command that replays it.
 * - A determinism self-check: the same seed twice gives the same trace hash,
 *   in this thread and in a worker.
 *
 * SIM_SEEDS and SIM_FIRST_SEED (env) change the sweep, e.g. to hunt further.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { simulate } from '../../src/sim/index.js';
import { runSeeds, summarise, type SeedJob } from './pool.js';

interface Pinned extends SeedJob {
  readonly invariant: string;
  readonly why: string;
}

const pinned = (JSON.parse(readFileSync(new URL('./pinned-seeds.json', import.meta.url), 'utf8')) as { seeds: Pinned[] }).seeds;
const sweepSize = Number(process.env.SIM_SEEDS ?? 1000);
const firstSeed = Number(process.env.SIM_FIRST_SEED ?? 1);

test('the same seed gives the same trace hash (in this thread and in a worker)', async () => {
  const seed = 424242;
  const a = await simulate({ seed, reportDir: null });
  const b = await simulate({ seed, reportDir: null });
  assert.equal(a.traceHash, b.traceHash);
  assert.equal(a.steps, b.steps);
  assert.ok(a.steps > 1000, `the run did something (${a.steps} steps)`);
  const [c] = await runSeeds([{ seed }], 1);
  assert.equal(c?.traceHash, a.traceHash, 'a worker thread (a fresh module graph) replays the same run');
  const other = await simulate({ seed: seed + 1, reportDir: null });
  assert.notEqual(other.traceHash, a.traceHash, 'different seeds differ');
});

test(`pinned seeds (${pinned.length}) still pass`, async () => {
  const outcomes = await runSeeds(pinned);
  const failed = outcomes.filter((o) => !o.ok);
  assert.equal(failed.length, 0, summarise(outcomes));
});

test(`${sweepSize} seeds from ${firstSeed}: every invariant holds`, async () => {
  const done = new Set(pinned.filter((p) => p.peers === undefined && p.steps === undefined && p.faults === undefined).map((p) => p.seed));
  const jobs: SeedJob[] = [];
  for (let seed = firstSeed; seed < firstSeed + sweepSize; seed++) if (!done.has(seed)) jobs.push({ seed });
  const outcomes = await runSeeds(jobs);
  assert.equal(outcomes.length, jobs.length);
  assert.ok(outcomes.every((o) => o.peers >= 3 && o.peers <= 8), 'swarm picks 3-8 peers');
  const failed = outcomes.filter((o) => !o.ok);
  assert.equal(failed.length, 0, `${summarise(outcomes)}\npin new failures in test/sim/pinned-seeds.json`);
});
