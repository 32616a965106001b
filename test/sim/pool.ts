/**
 * Runs simulator seeds across worker threads (one per core; this machine has
 * two) and gathers one outcome per seed. Seeds are handed out one at a time to
 * whichever worker is free; outcomes come back in seed order.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { FaultName } from '../../src/sim/index.js';

export interface SeedJob {
  readonly seed: number;
  readonly peers?: number;
  readonly steps?: number;
  readonly faults?: readonly FaultName[];
}

export interface SeedOutcome {
  readonly seed: number;
  readonly ok: boolean;
  readonly invariant: string | null;
  readonly message: string | null;
  readonly replay: string;
  readonly reportDir: string | null;
  readonly traceHash: string;
  readonly peers: number;
  readonly wallMs: number;
}

/** A worker running worker.ts under tsx (its loader is registered per thread). */
function spawnWorker(): Worker {
  const target = new URL('./worker.ts', import.meta.url).href;
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import { register } from ${JSON.stringify(tsxApi)}; register(); await import(${JSON.stringify(target)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`));
}

/**
 * Run every job across `workers` threads. Jobs are handed out one at a time,
 * each to the first worker that is free, so a worker that drew slow seeds does
 * not leave the other idle at the end.
 */
export async function runSeeds(jobs: readonly SeedJob[], workers = Math.min(2, availableParallelism())): Promise<SeedOutcome[]> {
  const outcomes: SeedOutcome[] = [];
  let next = 0;
  const count = Math.max(1, Math.min(workers, jobs.length));
  await Promise.all(
    Array.from(
      { length: jobs.length === 0 ? 0 : count },
      () =>
        new Promise<void>((resolve, reject) => {
          const w = spawnWorker();
          const handOut = (): void => {
            const job = jobs[next++];
            w.postMessage(job ?? null);
          };
          w.on('message', (o: SeedOutcome) => {
            outcomes.push(o);
            handOut();
          });
          w.on('error', reject);
          w.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sim worker exited with ${code}`))));
          handOut();
        }),
    ),
  );
  return outcomes.sort((a, b) => a.seed - b.seed);
}

/** Failures grouped by invariant and the shape of their message, for a readable summary. */
export function summarise(outcomes: readonly SeedOutcome[]): string {
  const failed = outcomes.filter((o) => !o.ok);
  const groups = new Map<string, SeedOutcome[]>();
  for (const o of failed) {
    const shape = `${o.invariant}: ${(o.message ?? '').replace(/p\d+/g, 'pN').replace(/[0-9a-f]{8,}/g, 'H').replace(/\d+/g, 'N').slice(0, 100)}`;
    groups.set(shape, [...(groups.get(shape) ?? []), o]);
  }
  const lines = [`${outcomes.length - failed.length}/${outcomes.length} seeds passed`];
  for (const [shape, os] of [...groups].sort((a, b) => b[1].length - a[1].length)) {
    lines.push(`  ${os.length} x ${shape}`, `      e.g. ${os[0]?.replay}`);
  }
  return lines.join('\n');
}
