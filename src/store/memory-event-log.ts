/**
 * The in-memory EventLog: the simulator's store, and the fast half of the
 * contract suite.
 *
 * Crash model. The store holds exactly what committed batches put there, as
 * the same encoded values LevelEventLog writes (records, projection JSON, head
 * record). Queued writes live only in the writer until their batch commits;
 * `crash()` hands back a new log over the committed store alone, so a batch is
 * either wholly durable or wholly lost, never half.
 *
 * Commit modes (see writer.ts):
 * - 'auto' (default): writes issued in one synchronous run are group-committed
 *   on the next microtask, like LevelEventLog; a crash before that microtask
 *   loses them.
 * - 'manual': nothing is durable until `flush()`, which commits synchronously.
 *   The simulator uses this: it runs on a virtual clock, decides when the disk
 *   "syncs", and can crash a node between a write and its flush.
 *
 * Faults: `failNextCommit(error)` makes the next batch fail as a full disk
 * would; the failed batch stores nothing and the log refuses further writes
 * (reopen it with `crash()`, as a restarted process would).
 */
import type { StampedEvent } from '../engine/types.js';
import type { VerifyResult } from '../events/codec.js';
import type { RecordedEvent } from '../events/types.js';
import type { State } from '../projections/state.js';
import { assert } from '../core/assert.js';
import { PloppyError } from '../core/errors.js';
import { decodeHead, emptyHead, encodeHead, type HeadRecord } from './encoding.js';
import type { EventLog, ReadOptions, VerifyOptions } from './event-log.js';
import { checkHead, decodeStored, loadFrom, readRange, schemaOf, verifierFor, type LogOptions, type Schema } from './log-common.js';
import { Writer, type CommitMode, type Sealed, type StoreAdapter, type StoreBatch } from './writer.js';

/** A memory batch: the records, in order. */
/**
 * A batch being filled: its records as they will be stored. A class, not an
 * object literal with an arrow per batch: under tsx (the simulator, the tests)
 * every function created at run time also pays for esbuild's keepNames wrapper,
 * which was 2% of a simulator profile.
 */
class MemoryBatch implements StoreBatch {
  readonly records: string[] = [];

  putRecord(_seq: number, hash: string, body: string): void {
    this.records.push(hash + body);
  }
}

/** The stored bytes of a memory log; plain data so tests can inspect and corrupt it. */
export interface MemoryStore {
  /** `records[i]` is the stored value of seq i + 1. */
  records: string[];
  /** State key -> stored JSON. */
  projections: Map<string, string>;
  /** The stored head record (JSON), or undefined for an empty log. */
  head: string | undefined;
}

export interface MemoryLogOptions extends LogOptions {
  readonly commit?: CommitMode;
  /** Start from this store (a copy is taken), e.g. one a test corrupted. */
  readonly store?: MemoryStore;
}

/** A store with nothing committed. */
export const emptyMemoryStore = (): MemoryStore => ({ records: [], projections: new Map(), head: undefined });

/** An independent copy (records are immutable strings, so the arrays and map are all that is copied). */
export const copyStore = (s: MemoryStore): MemoryStore => ({ records: [...s.records], projections: new Map(s.projections), head: s.head });

/** The EventLog of the simulator and of fast tests; see the crash model above. */
export class MemoryEventLog implements EventLog {
  private readonly store: MemoryStore;
  private readonly schema: Schema;
  private readonly writer: Writer<MemoryBatch>;
  private nextFailure: unknown = null;
  private closed = false;
  /** Iterators currently open (the contract suite checks they are always closed). */
  openIterators = 0;

  constructor(private readonly options: MemoryLogOptions = {}) {
    this.store = options.store === undefined ? emptyMemoryStore() : copyStore(options.store);
    this.schema = schemaOf(options);
    const head = this.store.head === undefined ? emptyHead : decodeHead(this.store.head);
    const adapter: StoreAdapter<MemoryBatch> = {
      begin: () => new MemoryBatch(),
      commit: (batch, sealed) => this.commit(batch, sealed),
      discard: () => {},
    };
    this.writer = new Writer(head, this.schema.hasher, adapter, options.commit ?? 'auto');
  }

  head(): number {
    return this.writer.head();
  }

  write(events: readonly StampedEvent[], state: State): Promise<readonly RecordedEvent[]> {
    return this.writer.write(events, state);
  }

  /** Manual mode: make every queued write durable now. Returns the number of events committed. */
  flush(): number {
    return this.writer.flush();
  }

  /** The number of batches committed (group commit makes it smaller than the number of writes). */
  get batches(): number {
    return this.writer.batches;
  }

  /** Events written but not yet durable. */
  pendingEvents(): number {
    return this.writer.pendingEvents();
  }

  /** Make the next batch fail with `error` (a fault for the simulator and tests). */
  failNextCommit(error: unknown = new PloppyError('DISK_FULL', 'simulated full disk')): void {
    this.nextFailure = error;
  }

  /**
   * The process dies: queued writes are lost (their promises never settle) and
   * this log is unusable. Returns the log a restarted process would open.
   */
  crash(): MemoryEventLog {
    this.writer.abandon();
    this.closed = true;
    return new MemoryEventLog({ ...this.options, store: this.store });
  }

  /** A copy of the stored bytes (committed batches only). */
  snapshotStore(): MemoryStore {
    return copyStore(this.store);
  }

  async *read(options: ReadOptions = {}): AsyncGenerator<RecordedEvent> {
    this.assertOpen();
    const { from, until } = readRange(options, this.store.records.length);
    this.openIterators++;
    try {
      for (let seq = from; seq <= until; seq++) {
        yield decodeStored(this.store.records[seq - 1] as string, seq, this.schema);
      }
    } finally {
      this.openIterators--;
    }
  }

  async loadState(): Promise<State> {
    this.assertOpen();
    return loadFrom(this.store.projections, this.durableHead().seq, (from, until) => this.read({ from, until }));
  }

  async verify(options: VerifyOptions = {}): Promise<VerifyResult> {
    this.assertOpen();
    const verifier = verifierFor(this.schema, options.onRecord);
    for (let i = 0; i < this.store.records.length; i++) {
      const problem = verifier.push(i + 1, this.store.records[i] as string);
      if (problem !== null) return problem;
    }
    return checkHead(verifier.result(), this.durableHead());
  }

  /** A clean shutdown: queued writes and the projections waiting for a checkpoint are committed first (in manual mode too). */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.options.commit === 'manual') this.writer.checkpoint();
    await this.writer.settle();
    this.writer.close();
    this.closed = true;
  }

  private durableHead(): HeadRecord {
    return this.store.head === undefined ? emptyHead : decodeHead(this.store.head);
  }

  private commit(batch: MemoryBatch, sealed: Sealed): void {
    const failure = this.nextFailure;
    if (failure !== null) {
      this.nextFailure = null;
      throw failure;
    }
    assert(sealed.firstSeq === this.store.records.length + 1, `batch starts at ${sealed.firstSeq} but the store ends at ${this.store.records.length}`);
    assert(batch.records.length === sealed.lastSeq - sealed.firstSeq + 1, 'a batch holds exactly its records');
    for (const r of batch.records) this.store.records.push(r);
    for (const [key, value] of sealed.projections) {
      if (value === undefined) this.store.projections.delete(key);
      else this.store.projections.set(key, value);
    }
    this.store.head = encodeHead(sealed.head);
  }

  private assertOpen(): void {
    if (this.closed) throw new PloppyError('LOG_CLOSED', 'the event log is closed');
  }
}
