/**
 * The EventLog port: an append-only, hash-chained, gapless log of events plus
 * the persisted projections, written together in one atomic batch.
 *
 * Two implementations pass one contract suite (test/unit/store/contract.ts):
 * LevelEventLog (classic-level, the daemon's) and MemoryEventLog (the
 * simulator's, with a crash model: only synced batches survive).
 */
import type { StampedEvent } from '../engine/types.js';
import type { RecordSink, VerifyResult } from '../events/codec.js';
import type { RecordedEvent } from '../events/types.js';
import type { State } from '../projections/state.js';

export interface ReadOptions {
  /** First sequence to read (inclusive, default 1). */
  readonly from?: number;
  /** Last sequence to read (inclusive, default head). */
  readonly until?: number;
}

export interface VerifyOptions {
  readonly onRecord?: RecordSink;
}

export interface EventLog {
  /** The last durable-or-enqueued sequence number (0 when empty). */
  head(): number;
  /**
   * Link `events` into the hash chain and enqueue them for the next group
   * commit, and take the keys `state` marks dirty (draining the set) for the
   * next projection checkpoint (see writer.ts: at most
   * `projectionCheckpointEvents` behind the log, in the same atomic batches). The
   * events must continue the sequence gaplessly and `state` must already have
   * folded them (a gap or an unfolded state is an assertion: a bug). If `state`
   * has folded events beyond these, its dirty keys are kept for the write that
   * catches up with it. Resolves when the batch holding them is durable
   * (sync: true); a failed batch rejects it and every later write.
   */
  write(events: readonly StampedEvent[], state: State): Promise<readonly RecordedEvent[]>;
  /**
   * Durable records in sequence order (hashes are not checked: see verify).
   * Iterators are always closed, even on early exit. A stored record of an
   * unknown type or schema version is an EVENT_UNKNOWN_TYPE/VERSION error.
   */
  read(options?: ReadOptions): AsyncIterable<RecordedEvent>;
  /**
   * A cold start: the stored projections (a checkpoint, which may lag the
   * log) with the durable log after them folded in, so the state's head is
   * the durable head. The keys the tail dirtied are left in `dirty`, for the
   * next checkpoint.
   */
  loadState(): Promise<State>;
  /**
   * Check the hash chain end to end; names the first bad sequence number.
   * `onRecord` gets each record that passed, decoded, in order: a caller
   * that also folds the log does it in the same pass.
   */
  verify(options?: VerifyOptions): Promise<VerifyResult>;
  close(): Promise<void>;
}
