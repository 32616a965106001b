/**
 * The one serialised writer behind both EventLog implementations.
 *
 * Theory of operation
 * - `write()` links its events into the hash chain at once (so `head()` and
 *   the next `write()` continue from them), captures the projection entries
 *   the state marks dirty, and queues the write. Nothing is durable yet.
 * - A batch takes every queued write, up to `groupCommitEventsMax` events, and
 *   hands it to the implementation's `commit`, which stores the records, the
 *   projection entries and the head record in one atomic, synced batch.
 *   Writes that arrive while a batch is being committed wait and go, together,
 *   into the next batch: group commit. Each write resolves when its batch is
 *   durable, in order.
 * - 'auto' mode starts a batch on the microtask after the first queued write,
 *   so writes issued in one synchronous run share a batch. 'manual' mode
 *   commits only in `flush()`: the simulator's explicit, synchronous commit
 *   point (it runs on a virtual clock and never waits for real I/O).
 * - A failed commit fails every queued write and the writer for good: the
 *   chain in memory has run ahead of the store, so the log must be reopened.
 * - `abandon()` models a crash: queued writes are dropped and never settle
 *   (a dead process gets no answer), the store keeps only committed batches.
 */
import { assert } from '../core/assert.js';
import { groupCommitEventsMax } from '../core/constants.js';
import { PloppyError } from '../core/errors.js';
import type { Seq } from '../core/ids.js';
import type { Hasher } from '../core/ports.js';
import type { StampedEvent } from '../engine/types.js';
import { encodeRecord } from '../events/codec.js';
import { currentVersions, isEventType, type RecordedEvent } from '../events/types.js';
import type { State } from '../projections/state.js';
import { captureDirty, encodeEntry, type CapturedEntries, type HeadRecord } from './encoding.js';

/** What one atomic, durable store batch holds. */
export interface Batch {
  /** The sequence number of `records[0]`; the rest follow gaplessly. */
  readonly firstSeq: number;
  /** Stored record values (`HASH BODY`). */
  readonly records: readonly string[];
  /** State key -> stored JSON, or undefined to delete the key. */
  readonly projections: ReadonlyMap<string, string | undefined>;
  /** The head record after this batch: the last record's sequence and hash. */
  readonly head: HeadRecord;
}

/** Store one batch atomically and durably; throw (or reject) if it was not stored. */
export type Commit = (batch: Batch) => Promise<void> | void;

export type CommitMode = 'auto' | 'manual';

interface QueuedWrite {
  readonly records: readonly string[];
  readonly recorded: readonly RecordedEvent[];
  /** Null when the state had already folded later events (see write()). */
  readonly entries: CapturedEntries | null;
  readonly head: HeadRecord;
  readonly resolve: (recorded: readonly RecordedEvent[]) => void;
  readonly reject: (error: unknown) => void;
}

export class Writer {
  private headSeq: number;
  private headHash: string;
  private queue: QueuedWrite[] = [];
  private committing = false;
  private scheduled = false;
  private failure: unknown = null;
  private abandoned = false;
  private idleWaiters: (() => void)[] = [];
  /** Batches committed so far (group commit makes this smaller than the number of writes). */
  batches = 0;
  /** Events committed so far. */
  eventsCommitted = 0;

  constructor(
    head: HeadRecord,
    private readonly hasher: Hasher,
    private readonly commit: Commit,
    private readonly mode: CommitMode,
  ) {
    this.headSeq = head.seq;
    this.headHash = head.hash;
  }

  /** The last sequence written or queued. */
  head(): number {
    return this.headSeq;
  }

  /** Events queued but not yet committed. */
  pendingEvents(): number {
    let n = 0;
    for (const w of this.queue) n += w.records.length;
    return n;
  }

  /**
   * Link, capture and queue. When `state` has already folded events beyond
   * these (an engine that emitted two appends in one step), its dirty keys are
   * left for the write that brings the log up to the state's head, so the
   * projections on disk never run ahead of the log on disk.
   */
  write(events: readonly StampedEvent[], state: State): Promise<readonly RecordedEvent[]> {
    if (this.failure !== null) return Promise.reject(this.failure);
    assert(events.length > 0, 'write() needs at least one event');
    const firstSeq = this.headSeq + 1;
    const records = new Array<string>(events.length);
    const recorded = new Array<RecordedEvent>(events.length);
    let prev = this.headHash;
    for (let i = 0; i < events.length; i++) {
      const e = events[i] as StampedEvent;
      assert(e.seq === firstSeq + i, `events must continue the log gaplessly: expected seq ${firstSeq + i}, got ${e.seq}`);
      assert(isEventType(e.type), `unknown event type ${String(e.type)}`);
      const encoded = encodeRecord(e, e.seq as Seq, prev, this.hasher);
      records[i] = encoded.value;
      recorded[i] = { ...e, seq: e.seq as Seq, v: currentVersions[e.type], prev, hash: encoded.hash } as RecordedEvent;
      prev = encoded.hash;
    }
    const lastSeq = firstSeq + events.length - 1;
    assert(state.meta.head >= lastSeq, `state must fold events before write(): state head ${state.meta.head} < last event ${lastSeq}`);
    const entries = state.meta.head === lastSeq ? captureDirty(state) : null;
    this.headSeq = lastSeq;
    this.headHash = prev;
    const head = { seq: lastSeq, hash: prev };
    return new Promise((resolve, reject) => {
      this.queue.push({ records, recorded, entries, head, resolve, reject });
      if (this.mode === 'auto') this.schedule();
    });
  }

  /** Manual mode: commit everything queued now, synchronously. Returns the events committed. */
  flush(): number {
    assert(this.mode === 'manual', 'flush() is for manual commit mode');
    let committed = 0;
    while (this.queue.length > 0 && this.failure === null) {
      const { batch, writes } = this.take();
      try {
        const result = this.commit(batch);
        assert(!(result instanceof Promise), 'manual mode needs a synchronous commit');
      } catch (e) {
        this.fail(e, writes);
        throw e;
      }
      this.committed(batch, writes);
      committed += batch.records.length;
    }
    return committed;
  }

  /** Resolves once nothing is queued (auto mode) and no batch is being committed. */
  async settle(): Promise<void> {
    while (this.committing || this.scheduled || (this.mode === 'auto' && this.queue.length > 0 && this.failure === null)) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
  }

  /** Refuse further writes (a closed log). */
  close(): void {
    if (this.failure === null) this.failure = new PloppyError('LOG_CLOSED', 'the event log is closed');
  }

  /** A crash: drop queued writes without settling them; commit nothing more. */
  abandon(): void {
    this.abandoned = true;
    this.queue = [];
    this.failure = new PloppyError('LOG_CLOSED', 'the event log crashed');
    this.wakeIdle();
  }

  private schedule(): void {
    if (this.committing || this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => void this.drain());
  }

  private async drain(): Promise<void> {
    this.scheduled = false;
    if (this.committing) return;
    this.committing = true;
    try {
      while (this.queue.length > 0 && this.failure === null) {
        const { batch, writes } = this.take();
        try {
          await this.commit(batch);
        } catch (e) {
          this.fail(e, writes);
          return;
        }
        if (this.abandoned) return;
        this.committed(batch, writes);
      }
    } finally {
      this.committing = false;
      this.wakeIdle();
    }
  }

  /** Merge queued writes, oldest first, into one batch of at most groupCommitEventsMax events. */
  private take(): { batch: Batch; writes: QueuedWrite[] } {
    let events = 0;
    let n = 0;
    while (n < this.queue.length) {
      const size = (this.queue[n] as QueuedWrite).records.length;
      if (n > 0 && events + size > groupCommitEventsMax) break;
      events += size;
      n++;
    }
    const writes = this.queue.splice(0, n);
    const records: string[] = [];
    const merged: CapturedEntries = new Map();
    for (const w of writes) {
      for (const r of w.records) records.push(r);
      if (w.entries !== null) for (const [key, entry] of w.entries) merged.set(key, entry);
    }
    const projections = new Map<string, string | undefined>();
    for (const [key, entry] of merged) projections.set(key, encodeEntry(entry));
    const head = (writes[writes.length - 1] as QueuedWrite).head;
    return { batch: { firstSeq: head.seq - records.length + 1, records, projections, head }, writes };
  }

  private committed(batch: Batch, writes: readonly QueuedWrite[]): void {
    this.batches++;
    this.eventsCommitted += batch.records.length;
    for (const w of writes) w.resolve(w.recorded);
  }

  private fail(error: unknown, writes: readonly QueuedWrite[]): void {
    this.failure = error;
    const all = [...writes, ...this.queue];
    this.queue = [];
    for (const w of all) w.reject(error);
    this.wakeIdle();
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
