/**
 * A small pool of hash worker threads, so a large scan hashes on both cores
 * while the event loop stays free for the network.
 *
 * Theory of operation
 * - `hash(path, sizeHint)` queues a job. An idle worker takes a batch from the
 *   head of the queue: up to hashBatchFilesMax files or hashBatchBytesMax bytes
 *   (by the size the caller saw), so 20,000 small files cost a few hundred
 *   messages, not 20,000, and a big file travels alone.
 * - Workers run the TypeScript sources through tsx when ploppy runs from
 *   source (a worker does not inherit the parent's loader), or the compiled
 *   .js file otherwise.
 * - A worker that fails to start or dies gives its batch back to the queue. With
 *   no worker left, the pool hashes in the calling thread: slower, never stuck.
 * - Idle workers are unref'd: a pool nobody closed does not keep the process up.
 * - Workers start on demand and stop after hashWorkerIdleExitMs without work:
 *   each is a V8 isolate of ~10 MB, and a daemon hashes files in bursts (a
 *   scan, the verification of a large file) with long quiet spells between.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { hashBatchBytesMax, hashBatchFilesMax, hashReadBufferBytes, hashThreadsMax, hashWorkerIdleExitMs } from '../core/constants.js';
import { ErrorCodes, PloppyError } from '../core/errors.js';
import type { ErrorCode } from '../core/errors.js';
import { hashFileAsync } from './hash-core.js';
import type { FileDigest } from './hash-core.js';
import { markBusy, markIdle, removeSlot, stopAll, type WorkerSlot } from './worker-slot.js';

/** A worker's answer for one file. */
export type HashOutcome = { ok: true; digest: FileDigest } | { ok: false; code: string; message: string };
/** Main thread to worker: hash these files. */
export interface HashBatch { readonly batch: number; readonly paths: readonly string[] }
/** Worker to main thread: one outcome per path, in order. */
export interface HashBatchResult { readonly batch: number; readonly results: readonly HashOutcome[] }

interface Job {
  readonly path: string;
  readonly sizeHint: number;
  readonly resolve: (d: FileDigest) => void;
  readonly reject: (e: Error) => void;
}

interface Slot extends WorkerSlot {
  inFlight: { batch: number; jobs: Job[] } | null;
}

/** Rebuild the worker's error: PloppyErrors keep their code, system errors their errno. */
function errorOf(outcome: { code: string; message: string }): Error {
  if ((ErrorCodes as readonly string[]).includes(outcome.code)) return new PloppyError(outcome.code as ErrorCode, outcome.message.replace(/^[A-Z_]+: /, ''));
  return Object.assign(new Error(outcome.message), { code: outcome.code });
}

/** Start the worker module `name` (beside this one) as compiled JS, or through tsx when running from source. */
export function spawnWorker(name = 'hash-worker'): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, here));
  const target = new URL(`./${name}.ts`, here).href;
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import { register } from ${JSON.stringify(tsxApi)}; register(); await import(${JSON.stringify(target)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`));
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

  /** Put jobs back at the front (a worker died holding them). */
  requeue(jobs: readonly Job[]): void {
    this.items = [...jobs, ...this.items.slice(this.head)];
    this.head = 0;
  }
}

/** Worker threads that hash files into blocks; see the module comment. */
export class HashPool {
  /** Workers running now (started on demand, stopped when idle). */
  private readonly slots: Slot[] = [];
  private readonly queue = new JobQueue();
  private nextBatch = 1;
  private inThreadBusy = false;
  private closed = false;
  /** Workers that died (they are not replaced). */
  private dead = 0;

  /**
   * `wanted` workers at most: by default the cores available, at most
   * hashThreadsMax; 0 hashes in the calling thread. A worker stops after
   * `idleExitMs` without work.
   */
  constructor(
    private readonly wanted = Math.min(hashThreadsMax, availableParallelism()),
    private readonly idleExitMs = hashWorkerIdleExitMs,
  ) {}

  /** Workers the pool can use (0: hashing happens in the calling thread). */
  get threads(): number {
    return this.wanted - this.dead;
  }

  /** Workers running now (for tests and diagnostics). */
  get running(): number {
    return this.slots.length;
  }

  /** Hash the regular file at absolute `path`; `sizeHint` (from lstat) only shapes batches. */
  hash(path: string, sizeHint = 0): Promise<FileDigest> {
    if (this.closed) return Promise.reject(new PloppyError('FS_ERROR', 'hash pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ path, sizeHint, resolve, reject });
      this.pump();
    });
  }

  /** Stop the workers; queued jobs fail with FS_ERROR. */
  async close(): Promise<void> {
    this.closed = true;
    for (let job = this.queue.shift(); job !== undefined; job = this.queue.shift()) job.reject(new PloppyError('FS_ERROR', 'hash pool closed'));
    await stopAll(this.slots);
  }

  private startSlot(): Slot {
    const worker = spawnWorker();
    const slot: Slot = { worker, alive: true, inFlight: null, idleTimer: null };
    this.slots.push(slot);
    worker.unref();
    worker.on('message', (m: HashBatchResult | { ready: true }) => { if ('batch' in m) this.finished(slot, m); });
    worker.on('error', () => this.lost(slot));
    worker.on('exit', () => this.lost(slot));
    return slot;
  }

  /** An idle worker, or a new one while fewer than `wanted` run. */
  private freeSlot(): Slot | null {
    const idle = this.slots.find((s) => s.alive && s.inFlight === null);
    if (idle !== undefined) return idle;
    return !this.closed && this.slots.length + this.dead < this.wanted ? this.startSlot() : null;
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const slot = this.freeSlot();
      if (slot === null) break;
      markBusy(slot);
      const jobs = this.takeBatch();
      const batch = this.nextBatch++;
      slot.inFlight = { batch, jobs };
      slot.worker.ref();
      const message: HashBatch = { batch, paths: jobs.map((j) => j.path) };
      slot.worker.postMessage(message);
    }
    if (this.queue.length > 0 && this.threads === 0) void this.drainInThread();
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

  private finished(slot: Slot, result: HashBatchResult): void {
    const flight = slot.inFlight;
    if (flight === null || flight.batch !== result.batch) return;
    slot.inFlight = null;
    slot.worker.unref();
    markIdle(slot, this.idleExitMs, () => this.retire(slot));
    flight.jobs.forEach((job, i) => {
      const outcome = result.results[i];
      if (outcome === undefined) job.reject(new PloppyError('FS_ERROR', `hash worker gave no result for ${job.path}`));
      else if (outcome.ok) job.resolve(outcome.digest);
      else job.reject(errorOf(outcome));
    });
    this.pump();
  }

  /** Stop a worker that has had nothing to do for a while (the next job starts another). */
  private retire(slot: Slot): void {
    slot.idleTimer = null;
    if (slot.inFlight === null && removeSlot(this.slots, slot)) void slot.worker.terminate();
  }

  /** A worker died: its batch goes back to the queue. */
  private lost(slot: Slot): void {
    if (!removeSlot(this.slots, slot)) return;
    this.dead++;
    if (slot.inFlight !== null) this.queue.requeue(slot.inFlight.jobs);
    slot.inFlight = null;
    if (!this.closed) this.pump();
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
