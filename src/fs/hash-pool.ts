/**
 * Hashing whole files on worker threads, so a large scan hashes on both cores
 * while the event loop stays free for the network.
 *
 * Theory of operation
 * - `hash(path, sizeHint)` queues a job. The queue is handed to the workers in
 *   batches: up to hashBatchFilesMax files or hashBatchBytesMax bytes (by the
 *   size the caller saw), so 20,000 small files cost a few hundred messages,
 *   not 20,000, and a big file travels alone. At most one batch per worker is
 *   out at a time, so the rest of the queue keeps batching.
 * - The threads are a BlockPool's (BlockPool.hashFiles). The daemon passes its
 *   own, so the scanner and the block traffic share two workers rather than
 *   running two each; `new HashPool(n)` makes a pool of its own (tests, and
 *   callers without a daemon).
 * - A worker that dies has its batch hashed in this thread (BlockPool). With
 *   no worker at all (0 threads, or all dead), the pool hashes in the calling
 *   thread: slower, never stuck.
 * - Workers start on demand and stop after hashWorkerIdleExitMs without work
 *   (see block-pool.ts).
 */
import { availableParallelism } from 'node:os';
import { hashBatchBytesMax, hashBatchFilesMax, hashReadBufferBytes, hashThreadsMax, hashWorkerIdleExitMs } from '../core/constants.js';
import { ErrorCodes, PloppyError } from '../core/errors.js';
import type { ErrorCode } from '../core/errors.js';
import { BlockPool } from './block-pool.js';
import { hashFileAsync } from './hash-core.js';
import type { FileDigest, HashOutcome } from './hash-core.js';

interface Job {
  readonly path: string;
  readonly sizeHint: number;
  readonly resolve: (d: FileDigest) => void;
  readonly reject: (e: Error) => void;
}

/** Rebuild the worker's error: PloppyErrors keep their code, system errors their errno. */
function errorOf(outcome: { code: string; message: string }): Error {
  if ((ErrorCodes as readonly string[]).includes(outcome.code)) return new PloppyError(outcome.code as ErrorCode, outcome.message.replace(/^[A-Z_]+: /, ''));
  return Object.assign(new Error(outcome.message), { code: outcome.code });
}

/** FIFO with O(1) shift (a scan queues tens of thousands of jobs at once). */
class JobQueue {
  private items: Job[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(job: Job): void {
    this.items.push(job);
  }

  peek(): Job | undefined {
    return this.items[this.head];
  }

  shift(): Job | undefined {
    const job = this.items[this.head];
    if (job === undefined) return undefined;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return job;
  }
}

/** Whole-file hashing on worker threads; see the module comment. */
export class HashPool {
  private readonly workers: BlockPool;
  /** Whether close() stops the workers (a shared pool is its owner's to close). */
  private readonly ownsWorkers: boolean;
  private readonly queue = new JobQueue();
  private batchesOut = 0;
  private inThreadBusy = false;
  private closed = false;

  /**
   * On `workers` (a BlockPool, shared), or on a pool of its own of at most
   * `workers` threads (by default the cores available, at most
   * hashThreadsMax; 0 hashes in the calling thread), each stopping after
   * `idleExitMs` without work.
   */
  constructor(workers: BlockPool | number = Math.min(hashThreadsMax, availableParallelism()), idleExitMs = hashWorkerIdleExitMs) {
    this.ownsWorkers = typeof workers === 'number';
    this.workers = typeof workers === 'number' ? new BlockPool(workers, idleExitMs) : workers;
  }

  /** Workers the pool can use (0: hashing happens in the calling thread). */
  get threads(): number {
    return this.workers.usable;
  }

  /** Workers running now (for tests and diagnostics). */
  get running(): number {
    return this.workers.running;
  }

  /** Hash the regular file at absolute `path`; `sizeHint` (from lstat) only shapes batches. */
  hash(path: string, sizeHint = 0): Promise<FileDigest> {
    if (this.closed) return Promise.reject(new PloppyError('FS_ERROR', 'hash pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ path, sizeHint, resolve, reject });
      this.pump();
    });
  }

  /** Stop hashing (and the workers, when they are this pool's own); queued jobs fail with FS_ERROR. */
  async close(): Promise<void> {
    this.closed = true;
    for (let job = this.queue.shift(); job !== undefined; job = this.queue.shift()) job.reject(new PloppyError('FS_ERROR', 'hash pool closed'));
    if (this.ownsWorkers) await this.workers.close();
  }

  private pump(): void {
    if (this.closed) return;
    if (this.workers.usable === 0) {
      if (this.queue.length > 0) void this.drainInThread();
      return;
    }
    while (this.queue.length > 0 && this.batchesOut < this.workers.usable) {
      const jobs = this.takeBatch();
      this.batchesOut++;
      this.workers.hashFiles(jobs.map((j) => j.path)).then(
        (outcomes) => this.settle(jobs, outcomes),
        (e: unknown) => { for (const job of jobs) job.reject(e instanceof Error ? e : new Error(String(e))); },
      ).finally(() => {
        this.batchesOut--;
        this.pump();
      });
    }
  }

  private takeBatch(): Job[] {
    const jobs: Job[] = [];
    let bytes = 0;
    for (let next = this.queue.peek(); next !== undefined && jobs.length < hashBatchFilesMax; next = this.queue.peek()) {
      if (jobs.length > 0 && bytes + next.sizeHint > hashBatchBytesMax) break;
      jobs.push(next);
      bytes += next.sizeHint;
      this.queue.shift();
    }
    return jobs;
  }

  private settle(jobs: readonly Job[], outcomes: readonly HashOutcome[]): void {
    jobs.forEach((job, i) => {
      const outcome = outcomes[i];
      if (outcome === undefined) job.reject(new PloppyError('FS_ERROR', `hash worker gave no result for ${job.path}`));
      else if (outcome.ok) job.resolve(outcome.digest);
      else job.reject(errorOf(outcome));
    });
  }

  private async drainInThread(): Promise<void> {
    if (this.inThreadBusy) return;
    this.inThreadBusy = true;
    const buffer = Buffer.allocUnsafe(hashReadBufferBytes);
    try {
      for (let job = this.queue.shift(); job !== undefined; job = this.queue.shift()) {
        try {
          job.resolve(await hashFileAsync(job.path, buffer));
        } catch (e) {
          job.reject(e instanceof Error ? e : new Error(String(e)));
        }
      }
    } finally {
      this.inThreadBusy = false;
    }
  }
}
