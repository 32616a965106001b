/**
 * The one serialised writer behind both EventLog implementations.
 *
 * Theory of operation
 * - `write()` links its events into the hash chain at once (so `head()` and
 *   the next `write()` continue from them) and adds them, with the projection
 *   entries the state marks dirty, to the open batch. Nothing is durable yet.
 * - Open batches fill in order; one is closed to new writes when it holds
 *   `groupCommitEventsMax` events. The writer hands the oldest to the
 *   implementation's `commit`, which stores its records, projection entries
 *   and head record in one atomic, synced batch. Writes that arrive while a
 *   batch is being committed accumulate in the next one: group commit. Each
 *   write resolves when its batch is durable, in order.
 * - 'auto' mode starts committing on the microtask after the first write, so
 *   writes issued in one synchronous run share a batch. 'manual' mode commits
 *   only in `flush()`: the simulator's explicit, synchronous commit point (it
 *   runs on a virtual clock and never waits for real I/O).
 * - Projections are checkpointed, not rewritten with every batch. Each write
 *   captures the entries its events dirtied into its batch; when a batch is
 *   sealed they join the entries waiting for the next checkpoint (later ones
 *   overwriting earlier). A batch carries them all (and the checkpoint is
 *   emptied) when it is the first of a busy period (the writer was idle: a
 *   quiet daemon writes its projections with every batch, as before), when
 *   `projectionCheckpointEvents` events have been sealed since the last
 *   checkpoint, and in `flush()`'s last batch once that many are waiting.
 *   When a busy period ends with entries waiting, an event-free batch writes
 *   them (auto mode; `checkpoint()` for manual mode and close). The stored
 *   projections therefore always reflect a committed prefix of the log
 *   (their `m` entry says which), and a cold start folds the tail after it
 *   (log-common.ts loadFrom): at most `projectionCheckpointEvents` events.
 * - A failed commit fails every pending write and the writer for good: the
 *   chain in memory has run ahead of the store, so the log must be reopened.
 * - `abandon()` models a crash: pending writes are dropped and never settle
 *   (a dead process gets no answer); the store keeps only committed batches.
 */
import { assert } from '../core/assert.js';
import { groupCommitEventsMax } from '../core/constants.js';
import { PloppyError } from '../core/errors.js';
import type { Seq } from '../core/ids.js';
import type { Hasher } from '../core/ports.js';
import type { StampedEvent } from '../engine/types.js';
import { encodeBody } from '../events/codec.js';
import { currentVersions, isEventType, type RecordedEvent } from '../events/types.js';
import type { State } from '../projections/state.js';
import { captureDirty, encodeEntry, type CapturedEntries, type HeadRecord } from './encoding.js';

/**
 * Events sealed between two projection checkpoints while the writer is busy:
 * the most a cold start after a crash folds on top of the stored projections
 * (well under 0.1 s at replay speed). A checkpoint rewrites every entry
 * dirtied since the last one, once however often it changed; a longer span
 * writes fewer bytes in all, but in larger batches that stall the pipeline
 * and leave more memory behind (measured with bench/log: 65,536 used ~20 MB
 * more peak RSS than 8,192 or 16,384, at no better rate).
 */
export const projectionCheckpointEvents = 16_384;

/**
 * A store batch being filled. Records go in as writes arrive, so the store
 * can move their bytes out of the JS heap at once (the LevelDB batch copies
 * them natively): a record waiting for its group commit then costs the
 * garbage collector nothing.
 */
export interface StoreBatch {
  /** Record `seq` is stored as `hash + body` (see encodeRecord); the store joins them as suits it. */
  putRecord(seq: number, hash: string, body: string): void;
}

/** What a batch gets when it is sealed for commit. */
export interface Sealed {
  /** The first and last sequence numbers of its records. */
  readonly firstSeq: number;
  readonly lastSeq: number;
  /**
   * State key -> stored JSON, or undefined to delete the key: empty unless
   * this batch is a checkpoint, which carries every entry dirtied since the last.
   */
  readonly projections: ReadonlyMap<string, string | undefined>;
  /** The head record after this batch: the last record's sequence and hash. */
  readonly head: HeadRecord;
}

/** An implementation's side of the writer: how to start and store a batch. */
export interface StoreAdapter<B extends StoreBatch> {
  begin(): B;
  /** Add the projections and head record, then store everything atomically and durably; throw if not stored. */
  commit(batch: B, sealed: Sealed): Promise<void> | void;
  /** Release a batch that will never be committed. */
  discard(batch: B): void;
}

/** 'auto': commit on the next microtask and after each batch; 'manual': only in flush(). */
export type CommitMode = 'auto' | 'manual';

interface PendingWrite {
  readonly recorded: readonly RecordedEvent[];
  readonly resolve: (recorded: readonly RecordedEvent[]) => void;
  readonly reject: (error: unknown) => void;
}

/** A batch still taking writes (or waiting for its turn to commit). */
interface OpenBatch<B> {
  readonly store: B;
  readonly firstSeq: number;
  events: number;
  /** Captured projection entries, later writes overwriting earlier ones (unless captured straight into the checkpoint's). */
  readonly entries: CapturedEntries;
  readonly writes: PendingWrite[];
  head: HeadRecord;
}

/** Links, captures and group-commits writes for one store (see the theory of operation above). */
export class Writer<B extends StoreBatch> {
  private headSeq: number;
  private headHash: string;
  private open: OpenBatch<B>[] = [];
  private committing = false;
  private scheduled = false;
  private failure: unknown = null;
  private abandoned = false;
  private idleWaiters: (() => void)[] = [];
  /** Entries of sealed batches waiting for the next checkpoint. */
  private checkpointEntries: CapturedEntries = new Map();
  /** Events sealed since the last checkpoint. */
  private sinceCheckpoint = 0;
  /** The head as of the last committed batch (where an event-free checkpoint batch sits). */
  private durable: HeadRecord;
  /** Batches committed so far (group commit makes this smaller than the number of writes). */
  batches = 0;
  /** Events committed so far. */
  eventsCommitted = 0;

  constructor(
    head: HeadRecord,
    private readonly hasher: Hasher,
    private readonly store: StoreAdapter<B>,
    private readonly mode: CommitMode,
  ) {
    this.headSeq = head.seq;
    this.headHash = head.hash;
    this.durable = head;
  }

  /** The last sequence written or queued. */
  head(): number {
    return this.headSeq;
  }

  /** Events written but not yet committed. */
  pendingEvents(): number {
    let n = 0;
    for (const b of this.open) n += b.events;
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
    const lastSeq = firstSeq + events.length - 1;
    for (let i = 0; i < events.length; i++) {
      const e = events[i] as StampedEvent;
      assert(e.seq === firstSeq + i, `events must continue the log gaplessly: expected seq ${firstSeq + i}, got ${e.seq}`);
      assert(isEventType(e.type), `unknown event type ${String(e.type)}`);
    }
    assert(state.meta.head >= lastSeq, `state must fold events before write(): state head ${state.meta.head} < last event ${lastSeq}`);
    // Encode everything before touching the open batch, so a bad event leaves no trace.
    const bodies = new Array<string>(events.length);
    const recorded = new Array<RecordedEvent>(events.length);
    let prev = this.headHash;
    for (let i = 0; i < events.length; i++) {
      const e = events[i] as StampedEvent;
      const body = encodeBody(e, e.seq as Seq, prev);
      const hash = this.hasher.sha256(body);
      bodies[i] = body;
      // A literal, not a spread: V8 builds `{...e, more}` on a slow path, and this is per event.
      recorded[i] = {
        type: e.type, data: e.data, seq: e.seq as Seq, id: e.id, hlc: e.hlc, peer: e.peer, v: currentVersions[e.type], prev, hash,
      } as RecordedEvent;
      prev = hash;
    }
    const batch = this.batchFor(events.length);
    for (let i = 0; i < bodies.length; i++) batch.store.putRecord(firstSeq + i, (recorded[i] as RecordedEvent).hash, bodies[i] as string);
    batch.events += bodies.length;
    // The first open batch is next to be sealed, so its entries may join the checkpoint's at once,
    // unless it took writes while it was further back: those sit in its own entries and are
    // merged at its seal, where they must not overwrite anything newer.
    if (state.meta.head === lastSeq) captureDirty(state, batch === this.open[0] && batch.entries.size === 0 ? this.checkpointEntries : batch.entries);
    this.headSeq = lastSeq;
    this.headHash = prev;
    batch.head = { seq: lastSeq, hash: prev };
    return new Promise((resolve, reject) => {
      batch.writes.push({ recorded, resolve, reject });
      if (this.mode === 'auto') this.schedule();
    });
  }

  /** Manual mode: commit everything pending now, synchronously. Returns the events committed. */
  flush(): number {
    assert(this.mode === 'manual', 'flush() is for manual commit mode');
    let committed = 0;
    while (this.open.length > 0 && this.failure === null) {
      const open = this.open.shift() as OpenBatch<B>;
      this.commitSync(open, this.seal(open, false));
      committed += open.events;
    }
    return committed;
  }

  /** Manual mode: write the projection entries waiting for a checkpoint (a clean close). */
  checkpoint(): void {
    assert(this.mode === 'manual', 'checkpoint() is for manual commit mode');
    this.flush();
    if (this.checkpointEntries.size > 0 && this.failure === null) {
      const open = this.checkpointBatch();
      this.commitSync(open, this.seal(open, true));
    }
  }

  private commitSync(open: OpenBatch<B>, s: Sealed): void {
    try {
      const result = this.store.commit(open.store, s);
      assert(!(result instanceof Promise), 'manual mode needs a synchronous commit');
    } catch (e) {
      this.fail(e, open);
      throw e;
    }
    this.committed(open, s);
  }

  /** Resolves once nothing is pending (auto mode) and no batch is being committed. */
  async settle(): Promise<void> {
    while (this.committing || this.scheduled || (this.mode === 'auto' && this.open.length > 0 && this.failure === null)) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
  }

  /** Refuse further writes (a closed log). */
  close(): void {
    if (this.failure === null) this.failure = new PloppyError('LOG_CLOSED', 'the event log is closed');
  }

  /** A crash: drop pending writes without settling them; commit nothing more. */
  abandon(): void {
    this.abandoned = true;
    for (const b of this.open) this.store.discard(b.store);
    this.open = [];
    this.failure = new PloppyError('LOG_CLOSED', 'the event log crashed');
    this.wakeIdle();
  }

  /** The open batch a write of `events` events joins, opening a new one when the last is full. */
  private batchFor(events: number): OpenBatch<B> {
    const last = this.open[this.open.length - 1];
    // The batch being committed has left `open`, so `last` still takes writes.
    if (last !== undefined && last.events + events <= groupCommitEventsMax) return last;
    const fresh: OpenBatch<B> = {
      store: this.store.begin(), firstSeq: this.headSeq + 1, events: 0, entries: new Map(), writes: [], head: { seq: this.headSeq, hash: this.headHash },
    };
    this.open.push(fresh);
    return fresh;
  }

  private schedule(): void {
    if (this.committing || this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => void this.drain());
  }

  /**
   * Commit open batches until none is left, then the waiting checkpoint, if
   * any. The first batch of a run (the writer was idle) is a checkpoint.
   */
  private async drain(): Promise<void> {
    this.scheduled = false;
    if (this.committing) return;
    this.committing = true;
    try {
      let idle = true;
      while (this.failure === null) {
        let open = this.open.shift();
        if (open === undefined) {
          if (this.checkpointEntries.size === 0) return;
          open = this.checkpointBatch();
          idle = true;
        }
        const s = this.seal(open, idle);
        idle = false;
        try {
          await this.store.commit(open.store, s);
        } catch (e) {
          this.fail(e, open);
          return;
        }
        if (this.abandoned) return;
        this.committed(open, s);
      }
    } finally {
      this.committing = false;
      this.wakeIdle();
    }
  }

  /** An event-free batch at the durable head, to carry a checkpoint. */
  private checkpointBatch(): OpenBatch<B> {
    return { store: this.store.begin(), firstSeq: this.durable.seq + 1, events: 0, entries: new Map(), writes: [], head: this.durable };
  }

  /**
   * Seal `open` for its commit: its entries join those waiting for a
   * checkpoint, and all of them go with it when `checkpoint` is asked for or
   * enough events have gone by (encoded once per key, however often it changed).
   */
  private seal(open: OpenBatch<B>, checkpoint: boolean): Sealed {
    if (this.checkpointEntries.size === 0) this.checkpointEntries = open.entries;
    else for (const [key, entry] of open.entries) this.checkpointEntries.set(key, entry);
    this.sinceCheckpoint += open.events;
    let projections: Map<string, string | undefined> = noProjections;
    if (checkpoint || this.sinceCheckpoint >= projectionCheckpointEvents) {
      projections = new Map();
      for (const [key, entry] of this.checkpointEntries) projections.set(key, encodeEntry(entry));
      this.checkpointEntries = new Map();
      this.sinceCheckpoint = 0;
    }
    return { firstSeq: open.firstSeq, lastSeq: open.firstSeq + open.events - 1, projections, head: open.head };
  }

  private committed(open: OpenBatch<B>, s: Sealed): void {
    this.durable = s.head;
    if (open.events === 0) return;
    this.batches++;
    this.eventsCommitted += open.events;
    for (const w of open.writes) w.resolve(w.recorded);
  }

  private fail(error: unknown, failed: OpenBatch<B>): void {
    this.failure = error;
    const batches = [failed, ...this.open];
    this.open = [];
    for (const b of batches) {
      this.store.discard(b.store);
      for (const w of b.writes) w.reject(error);
    }
    this.wakeIdle();
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

/** The projections of a batch that is not a checkpoint (never written to). */
const noProjections = new Map<string, string | undefined>();
