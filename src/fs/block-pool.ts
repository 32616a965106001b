/**
 * Block workers: reading and hashing single blocks on worker threads, so the
 * event loop (which also runs TLS, framing, the engine and the log) does not
 * hash a gigabyte on its own.
 *
 * Theory of operation
 * - `read` opens (or reuses) the file in a worker, reads the range into a
 *   pooled buffer (blockBuffers) moved there, hashes it and hands the buffer
 *   back by transfer; whoever is done with the bytes gives it back to the pool. The
 *   caller may ask for headroom before the bytes: a frame header can then be
 *   written in front of them and the frame sent as one buffer.
 * - `copy` is a read whose bytes, when they hash to the expected block, the
 *   worker also writes to an open temp file (its descriptor, which the
 *   caller holds open until the job is done) at each of the block's offsets:
 *   a file rebuilt from local blocks (an edit in a large file) never has its
 *   bytes cross to the event loop, which used to spend most of its time in
 *   those writes.
 * - `hash` moves a block's memory to a worker and back (transfer, no copy)
 *   when the block owns its memory outright (src/core/buffers.ts); otherwise the bytes
 *   are copied into memory of their own first.
 * - Jobs go to the worker with the fewest outstanding; a worker takes them in
 *   order, so several can be queued at once and latency stays hidden.
 * - A worker that dies fails its jobs over to this thread, as does a pool
 *   without workers: slower, never stuck. Idle workers do not hold the
 *   process open.
 * - `hashFiles` hashes whole files (a batch of paths) on a worker: the
 *   scanner's hashing (HashPool) runs on these same threads, so a daemon that
 *   scans while it serves or receives blocks runs two workers, not four (each
 *   is ~7.5 MB of memory idle).
 * - Workers start on demand (a job finds none idle and fewer than `threads`
 *   run) and stop after hashWorkerIdleExitMs without work: each is a V8
 *   isolate, and a folder of small files never needs one.
 */
import { createHash } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { open } from 'node:fs/promises';
import { constants } from 'node:fs';
import { writeAt } from './write-at.js';
import { blockBuffers, forgetOwnedMemory, markOwnedMemory, ownsMemory } from '../core/buffers.js';
import { hashReadBufferBytes, hashWorkerIdleExitMs } from '../core/constants.js';
import { PloppyError } from '../core/errors.js';
import type { BlockHash } from '../core/ids.js';
import { failedOutcome, hashFileAsync, type HashOutcome } from './hash-core.js';
import { markBusy, markIdle, removeSlot, spawnWorker, stopAll, type WorkerSlot } from './worker-slot.js';

/** Main thread to worker. */
export type BlockJob =
  | {
    readonly kind: 'read'; readonly id: number; readonly path: string; readonly offset: number; readonly length: number; readonly headroom: number; readonly buffer: ArrayBuffer;
    /** copy: write the bytes there when they hash to `hash` (else write nothing). */
    readonly writeTo?: CopyTarget;
  }
  | { readonly kind: 'hash'; readonly id: number; readonly buffer: ArrayBuffer; readonly byteOffset: number; readonly length: number }
  /** Hash each whole file (hashFileSync), answering one outcome per path, in order. */
  | { readonly kind: 'files'; readonly id: number; readonly paths: readonly string[] };

/** Worker to main thread. A read shorter than asked has `length` < the requested length. */
export type BlockJobResult =
  | { readonly id: number; readonly ok: true; readonly buffer: ArrayBuffer; readonly byteOffset: number; readonly length: number; readonly digest: string }
  | { readonly id: number; readonly ok: true; readonly outcomes: readonly HashOutcome[] }
  | { readonly id: number; readonly ok: false; readonly code: string; readonly message: string };

/** A job that went through (on a worker or in this thread). */
type Done = Extract<BlockJobResult, { ok: true }>;

/** Where a copied block goes: an open descriptor, the byte offsets in it, and the hash the bytes must have. */
export interface CopyTarget {
  readonly fd: number;
  readonly positions: readonly number[];
  readonly hash: BlockHash;
}

/** Bytes and their SHA-256. */
export interface HashedBlock {
  readonly data: Buffer;
  readonly digest: BlockHash;
}

interface Pending {
  readonly resolve: (r: Done) => void;
  readonly reject: (e: Error) => void;
  readonly job: BlockJob;
}

interface Slot extends WorkerSlot {
  readonly pending: Map<number, Pending>;
}

const sha256 = (data: Uint8Array): BlockHash => createHash('sha256').update(data).digest('hex') as BlockHash;

function failure(r: Extract<BlockJobResult, { ok: false }>): Error {
  return Object.assign(new PloppyError('FS_ERROR', r.message), { code: r.code });
}

/** A read or hash job's bytes (memory of their own: see src/core/buffers.ts) and digest. */
function blockOf(r: Done): HashedBlock {
  if (!('digest' in r)) throw new PloppyError('FS_ERROR', 'a block job was answered with file outcomes');
  const data = Buffer.from(r.buffer, r.byteOffset, r.length);
  markOwnedMemory(data);
  return { data, digest: r.digest as BlockHash };
}

export class BlockPool {
  /** Workers running now (started on demand, stopped when idle). */
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closed = false;
  /** Workers that died (they are not replaced). */
  private dead = 0;

  /** At most `threads` workers; each stops after `idleExitMs` without work. */
  constructor(private readonly threads: number, private readonly idleExitMs = hashWorkerIdleExitMs) {}

  /** Workers running now (for tests and diagnostics). */
  get running(): number {
    return this.slots.length;
  }

  /** Workers the pool can still start (0: every job runs in the calling thread). */
  get usable(): number {
    return this.closed ? 0 : this.threads - this.dead;
  }

  /** Read `length` bytes at `offset` of the regular file at absolute `path` (never through a symlink). */
  read(path: string, offset: number, length: number, headroom = 0): Promise<HashedBlock> {
    const buffer = blockBuffers.take(headroom + length);
    return this.submit({ kind: 'read', id: this.nextId++, path, offset, length, headroom, buffer }).then(blockOf);
  }

  /**
   * Read a block like `read`; when its bytes hash to `to.hash`, they are also
   * written to `to.fd` at each of `to.positions` before this resolves (the
   * caller compares the digest to know which happened). `to.fd` must stay
   * open until then.
   */
  copy(path: string, offset: number, length: number, to: CopyTarget): Promise<HashedBlock> {
    const buffer = blockBuffers.take(length);
    return this.submit({ kind: 'read', id: this.nextId++, path, offset, length, headroom: 0, buffer, writeTo: to }).then(blockOf);
  }

  /** The SHA-256 of `data`, computed on a worker; resolves with the same bytes (possibly in a new view). */
  hash(data: Uint8Array): Promise<HashedBlock> {
    let source = data;
    if (!ownsMemory(data) || data.buffer instanceof SharedArrayBuffer) {
      source = Buffer.from(blockBuffers.take(data.byteLength), 0, data.byteLength);
      (source as Buffer).set(data);
    }
    forgetOwnedMemory(source);
    return this.submit({ kind: 'hash', id: this.nextId++, buffer: source.buffer as ArrayBuffer, byteOffset: source.byteOffset, length: source.byteLength }).then(blockOf);
  }

  /** Hash the regular files at these absolute paths, one outcome per path (a failure is an outcome, not a rejection). */
  hashFiles(paths: readonly string[]): Promise<readonly HashOutcome[]> {
    return this.submit({ kind: 'files', id: this.nextId++, paths }).then((r) => {
      if (!('outcomes' in r)) throw new PloppyError('FS_ERROR', 'a file hashing job was answered with a block');
      return r.outcomes;
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await stopAll(this.slots);
  }

  private submit(job: BlockJob): Promise<Done> {
    return new Promise((resolve, reject) => {
      const slot = this.pick();
      if (slot === null) {
        this.runHere(job).then(resolve, reject);
        return;
      }
      slot.pending.set(job.id, { resolve, reject, job });
      markBusy(slot);
      if (slot.pending.size === 1) slot.worker.ref();
      slot.worker.postMessage(job, job.kind === 'files' ? [] : [job.buffer]);
    });
  }

  /** The worker with the fewest jobs; a new one when every running worker is busy and fewer than `threads` run. */
  private pick(): Slot | null {
    if (this.closed) return null;
    let best: Slot | null = null;
    for (const s of this.slots) if (s.alive && (best === null || s.pending.size < best.pending.size)) best = s;
    if ((best === null || best.pending.size > 0) && this.slots.length + this.dead < this.threads) return this.startSlot();
    return best;
  }

  private startSlot(): Slot {
    const worker = spawnWorker('block-worker');
    const slot: Slot = { worker, alive: true, pending: new Map(), idleTimer: null };
    this.slots.push(slot);
    worker.unref();
    worker.on('message', (r: BlockJobResult) => this.finished(slot, r));
    worker.on('error', () => this.lost(slot));
    worker.on('exit', () => this.lost(slot));
    return slot;
  }

  private finished(slot: Slot, r: BlockJobResult): void {
    const p = slot.pending.get(r.id);
    if (p === undefined) return;
    slot.pending.delete(r.id);
    if (slot.pending.size === 0) {
      slot.worker.unref();
      markIdle(slot, this.idleExitMs, () => this.retire(slot));
    }
    if (!r.ok) return p.reject(failure(r));
    p.resolve(r);
  }

  /** Stop a worker that has had nothing to do for a while (the next job starts another). */
  private retire(slot: Slot): void {
    slot.idleTimer = null;
    if (slot.pending.size === 0 && removeSlot(this.slots, slot)) void slot.worker.terminate();
  }

  /** A worker died: what it held is done here (its buffers went with it: a read gets a new one, a hash job fails). */
  private lost(slot: Slot): void {
    if (!removeSlot(this.slots, slot)) return;
    this.dead++;
    for (const p of slot.pending.values()) {
      const job = p.job;
      if (job.kind === 'read') this.runHere({ ...job, buffer: blockBuffers.take(job.headroom + job.length) }).then(p.resolve, p.reject);
      else if (job.kind === 'files') this.runHere(job).then(p.resolve, p.reject);
      else p.reject(new PloppyError('FS_ERROR', 'a block worker stopped while hashing'));
    }
    slot.pending.clear();
  }

  private async runHere(job: BlockJob): Promise<Done> {
    switch (job.kind) {
      case 'hash':
        return { id: job.id, ok: true, buffer: job.buffer, byteOffset: job.byteOffset, length: job.length, digest: sha256(new Uint8Array(job.buffer, job.byteOffset, job.length)) };
      case 'files': {
        const buffer = Buffer.allocUnsafe(hashReadBufferBytes);
        const outcomes: HashOutcome[] = [];
        for (const path of job.paths) outcomes.push(await hashFileAsync(path, buffer).then((digest): HashOutcome => ({ ok: true, digest }), failedOutcome));
        return { id: job.id, ok: true, outcomes };
      }
      case 'read': {
        const handle = await open(job.path, constants.O_RDONLY | constants.O_NOFOLLOW);
        try {
          const whole = Buffer.from(job.buffer);
          const { bytesRead } = await handle.read(whole, job.headroom, job.length, job.offset);
          const data = whole.subarray(job.headroom, job.headroom + bytesRead);
          const digest = sha256(data);
          if (job.writeTo !== undefined && digest === job.writeTo.hash) writeAt(job.writeTo, data);
          return { id: job.id, ok: true, buffer: job.buffer, byteOffset: job.headroom, length: bytesRead, digest };
        } finally {
          await handle.close();
        }
      }
    }
  }
}
