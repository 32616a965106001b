/**
 * A worker thread for the seed sweep: runs the seeds it is given, one after
 * another, and posts one summary per seed (the full result stays here: a
 * failure's logs are written to a temp dir whose path is in the summary).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { simulate } from '../../src/sim/index.js';
import type { SeedJob, SeedOutcome } from './pool.js';

const jobs = (workerData as { jobs: SeedJob[] }).jobs;
for (const job of jobs) {
  const started = performance.now();
  const r = await simulate({ ...job, reportDir: undefined });
  const first = r.violations[0];
  const outcome: SeedOutcome = {
    seed: job.seed,
    ok: r.ok,
    invariant: first?.invariant ?? null,
    message: first?.message ?? null,
    replay: r.replay,
    reportDir: r.reportDir,
    traceHash: r.traceHash,
    peers: r.knobs.peers,
    wallMs: Math.round(performance.now() - started),
  };
  parentPort?.postMessage(outcome);
}
