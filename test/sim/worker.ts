/**
 * A worker thread for the seed sweep: runs each seed it is handed, one at a
 * time, and posts one summary per seed (the full result stays here: a
 * failure's logs are written to a temp dir whose path is in the summary).
 * The pool hands out the next seed when this one is done, so both workers
 * stay busy to the end; a null job means there are no more.
 */
import { parentPort } from 'node:worker_threads';
import { simulate } from '../../src/sim/index.js';
import type { SeedJob, SeedOutcome } from './pool.js';

async function run(job: SeedJob): Promise<SeedOutcome> {
  const started = performance.now();
  const r = await simulate({ ...job, reportDir: undefined });
  const first = r.violations[0];
  return {
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
}

parentPort?.on('message', (job: SeedJob | null) => {
  if (job === null) {
    parentPort?.close();
    return;
  }
  void run(job).then((outcome) => parentPort?.postMessage(outcome));
});
