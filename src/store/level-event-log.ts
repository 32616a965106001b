/**
 * The daemon's EventLog on LevelDB (classic-level 3).
 *
 * Key layout and encodings are in encoding.ts; batching and group commit in
 * writer.ts. This file adds what is LevelDB's own: opening (and reporting a
 * LOCK held by another process), writing a batch with `sync: true`, and range
 * scans through iterators that are always closed, on early exit too.
 *
 * Reads see committed batches only (an iterator reads from an implicit
 * snapshot taken when it opens; verify and loadState take one explicit
 * snapshot for everything they read). Scans fetch up to `logReadAheadBytes`
 * per native call: classic-level's default of 16 KiB would cost a thread-pool
 * round trip every few dozen records.
 *
 * The tuning constants below are this adapter's, not protocol limits, so they
 * live here rather than in core/constants.ts.
 */
import { ClassicLevel, type ChainedBatch, type Snapshot } from 'classic-level';
import { PloppyError } from '../core/errors.js';
import type { StampedEvent } from '../engine/types.js';
import type { VerifyResult } from '../events/codec.js';
import type { RecordedEvent } from '../events/types.js';
import type { State } from '../projections/state.js';
import {
  decodeHead,
  encodeHead,
  headKey,
  logEnd,
  logKey,
  logStart,
  projectionEnd,
  projectionKey,
  projectionStart,
  seqOfLogKey,
  stateKeyOf,
  writeLogKey,
  type HeadRecord,
} from './encoding.js';
import type { EventLog, ReadOptions, VerifyOptions } from './event-log.js';
import { checkHead, decodeStored, loadFrom, readRange, schemaOf, verifierFor, type LogOptions, type Schema } from './log-common.js';
import { Writer, type Sealed, type StoreAdapter, type StoreBatch } from './writer.js';

/**
 * LevelDB's in-memory write buffer. Larger than the 4 MiB default so a burst
 * of group-committed batches does not stall on level-0 compactions; it bounds
 * both the memory used and the log LevelDB replays when it opens.
 */
export const levelWriteBufferBytes = 16 * 1024 * 1024;
/**
 * The daemon's write buffer: LevelDB's 4 MiB default. A daemon's log grows by
 * a few megabytes a second at most, and the buffer (plus the one being
 * flushed) is resident memory the daemon's 150 MB budget cannot spare.
 */
export const daemonLevelWriteBufferBytes = 4 * 1024 * 1024;

/** LogOptions, and LevelDB's write buffer (default levelWriteBufferBytes). */
export interface LevelLogOptions extends LogOptions {
  readonly writeBufferBytes?: number;
}
/**
 * LevelDB memory-maps every table it opens and unmaps it only when the table
 * leaves its cache, so a full scan leaves the whole log resident unless the
 * cache is small. These bound the mapped pages to about 64 tables of 1 MiB:
 * LevelDB's floor of 74 open files (10 are its own) and tables half the
 * default size.
 */
export const levelOpenFilesMax = 74;
export const levelTableBytesMax = 1024 * 1024;
/** Bytes fetched per native iterator call during scans. */
export const logReadAheadBytes = 1024 * 1024;
/** Entries (chunks) asked for per native iterator call. */
export const logReadBatchEntries = 1000;
/**
 * A chunk of the log (one LevelDB value) holds at most this many records and
 * is closed once it reaches `logChunkBytes`: few enough native calls and keys
 * per event, small enough that reading one event reads little else.
 */
export const logChunkEventsMax = 64;
export const logChunkBytes = 32 * 1024;

type Db = ClassicLevel<Buffer, string>;

/** The key buffer every chunk passes through on its way into a native batch. */
const chunkKey = logKey(0);
/** The byte between two records of a chunk (JSON.stringify never emits a raw newline). */
const recordSeparator = 0x0a;

/** classic-level's own entry point behind ChainedBatch.put: no validation, encoding, hooks or events. */
interface NativePut {
  _put(key: Buffer, value: Buffer): void;
}

/**
 * A LevelDB batch that gathers records into chunks (see encoding.ts) and
 * copies each chunk into native memory as soon as it is full, so records
 * waiting for their group commit cost the garbage collector nothing. A chunk
 * is assembled as UTF-8 bytes in the batch's buffer (joining strings would
 * make V8 flatten copies first). Chunks skip the public put() wrapper, which
 * validates, encodes, runs hooks and copies an options object per call: our
 * keys and values are already bytes, and this database has no hooks or
 * listeners. The head record, put publicly at commit, is what makes the batch
 * non-empty for write(). The open chunk is stored at commit (`endChunk`).
 */
class LevelBatch implements StoreBatch {
  private readonly native: NativePut;
  private used = 0;
  private records = 0;
  private lastSeq = 0;
  /** Where the open chunk is assembled (grown for an outsized record). */
  private buffer = Buffer.allocUnsafe(2 * logChunkBytes);

  constructor(readonly batch: ChainedBatch<Db, Buffer, string>) {
    this.native = batch as unknown as NativePut;
  }

  putRecord(seq: number, hash: string, body: string): void {
    // body.length * 3 bounds its UTF-8 length without measuring it.
    const need = 1 + hash.length + body.length * 3;
    if (this.used + need > this.buffer.length) {
      this.endChunk();
      if (need > this.buffer.length) this.buffer = Buffer.allocUnsafe(need);
    }
    if (this.records > 0) this.buffer[this.used++] = recordSeparator;
    this.used += this.buffer.write(hash, this.used, 'latin1');
    this.used += this.buffer.write(body, this.used, 'utf8');
    this.records++;
    this.lastSeq = seq;
    if (this.records >= logChunkEventsMax || this.used >= logChunkBytes) this.endChunk();
  }

  /** Store the open chunk under its last sequence number. */
  endChunk(): void {
    if (this.records === 0) return;
    // _put copies key and value into the native batch at once, so one key and one chunk buffer serve every chunk.
    this.native._put(writeLogKey(chunkKey, this.lastSeq), this.buffer.subarray(0, this.used));
    this.used = 0;
    this.records = 0;
  }
}

/** The two things RecordIterator needs of a LevelDB iterator: records (stored strings) in order, and closing. */
interface ValueSource {
  nextv(): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * The records of stored chunks, in order, clipped to [from, until]. A
 * record's place is counted back from its chunk's key (its last sequence);
 * decodeStored checks that the record agrees.
 */
function recordsOf(chunks: readonly [Buffer, string][], from: number, until: number): string[] {
  const out: string[] = [];
  for (const [key, chunk] of chunks) {
    const records = chunk.split('\n');
    let seq = seqOfLogKey(key) - records.length + 1;
    for (const r of records) {
      if (seq >= from && seq <= until) out.push(r);
      seq++;
    }
  }
  return out;
}

/**
 * Decoded records, handed out of fetched chunks without an async generator's
 * per-item suspension (a few percent of a million-record replay). One chunk
 * is always being fetched on libuv's thread while the last is handed out.
 * The source opens on the first next() and is closed at the end, on a
 * decoding error and on return() (a consumer's break or throw).
 */
class RecordIterator implements AsyncIterator<RecordedEvent> {
  private source: ValueSource | null = null;
  private fetching: Promise<string[]> | null = null;
  private values: string[] = [];
  private at = 0;
  private seq: number;
  private finished = false;
  /** Set while a chunk is awaited, so a next() called meanwhile waits its turn. */
  private refilling: Promise<void> | null = null;

  constructor(
    from: number,
    private readonly until: number,
    private readonly schema: Schema,
    private readonly open: () => ValueSource,
  ) {
    this.seq = from;
    if (from > until) this.finished = true;
  }

  next(): Promise<IteratorResult<RecordedEvent>> {
    if (this.refilling !== null) return this.refilling.then(() => this.next());
    if (this.at < this.values.length) {
      try {
        return Promise.resolve({ value: decodeStored(this.values[this.at++] as string, this.seq++, this.schema), done: false });
      } catch (e) {
        return this.finish().then(() => Promise.reject(e));
      }
    }
    const refill = this.refill();
    this.refilling = refill.then(
      () => undefined,
      () => undefined,
    );
    void this.refilling.then(() => (this.refilling = null));
    return refill;
  }

  async return(): Promise<IteratorResult<RecordedEvent>> {
    await this.finish();
    return { value: undefined, done: true };
  }

  private async refill(): Promise<IteratorResult<RecordedEvent>> {
    if (this.finished) return { value: undefined, done: true };
    if (this.source === null) {
      this.source = this.open();
      this.fetching = this.source.nextv();
    }
    let values: string[];
    try {
      values = await (this.fetching as Promise<string[]>);
    } catch (e) {
      this.fetching = null;
      await this.finish();
      throw e;
    }
    if (values.length === 0) {
      this.fetching = null;
      await this.finish();
      if (this.seq !== this.until + 1) throw new PloppyError('LOG_CORRUPT', `the log ends at seq ${this.seq - 1}, before its head ${this.until}; run verify`);
      return { value: undefined, done: true };
    }
    this.fetching = this.source.nextv();
    this.values = values;
    this.at = 1;
    try {
      return { value: decodeStored(values[0] as string, this.seq++, this.schema), done: false };
    } catch (e) {
      await this.finish();
      throw e;
    }
  }

  private async finish(): Promise<void> {
    if (this.finished && this.source === null) return;
    this.finished = true;
    this.values = [];
    const source = this.source;
    this.source = null;
    if (source === null) return;
    await this.fetching?.catch(() => []);
    this.fetching = null;
    await source.close();
  }
}

/** The EventLog of the daemon and the CLI, one LevelDB database per network. */
export class LevelEventLog implements EventLog {
  private readonly schema: Schema;
  private readonly writer: Writer<LevelBatch>;
  private durable: HeadRecord;
  private closed = false;
  /** Iterators currently open (the contract suite checks they are always closed). */
  openIterators = 0;

  private constructor(
    private readonly db: Db,
    /** The database directory. */
    readonly location: string,
    head: HeadRecord,
    options: LogOptions,
  ) {
    this.schema = schemaOf(options);
    this.durable = head;
    const adapter: StoreAdapter<LevelBatch> = {
      begin: () => new LevelBatch(db.batch()),
      commit: (batch, sealed) => {
        batch.endChunk();
        return this.commit(batch.batch, sealed);
      },
      discard: (batch) => void batch.batch.close().catch(() => {}),
    };
    this.writer = new Writer(head, this.schema.hasher, adapter, 'auto');
  }

  /** Open (creating if missing) the log at `location`. A LOCK held elsewhere is LOG_LOCKED. */
  static async open(location: string, options: LevelLogOptions = {}): Promise<LevelEventLog> {
    const db: Db = new ClassicLevel<Buffer, string>(location, {
      keyEncoding: 'buffer',
      valueEncoding: 'utf8',
      writeBufferSize: options.writeBufferBytes ?? levelWriteBufferBytes,
      maxOpenFiles: levelOpenFilesMax,
      maxFileSize: levelTableBytesMax,
    });
    try {
      await db.open();
    } catch (e) {
      throw openError(e, location);
    }
    try {
      const head = decodeHead(await db.get(headKey));
      return new LevelEventLog(db, location, head, options);
    } catch (e) {
      await db.close();
      throw e;
    }
  }

  head(): number {
    return this.writer.head();
  }

  write(events: readonly StampedEvent[], state: State): Promise<readonly RecordedEvent[]> {
    return this.writer.write(events, state);
  }

  /** The number of batches committed (group commit makes it smaller than the number of writes). */
  get batches(): number {
    return this.writer.batches;
  }

  read(options: ReadOptions = {}): AsyncIterable<RecordedEvent> {
    this.assertOpen();
    const { from, until } = readRange(options, this.durable.seq);
    return this.records(from, until, undefined);
  }

  /** Projections, head record and log tail all from one snapshot, so writes in flight cannot tear it. */
  async loadState(): Promise<State> {
    this.assertOpen();
    const snapshot = this.db.snapshot();
    try {
      const entries: [string, string][] = [];
      for await (const chunk of this.chunks(projectionStart, projectionEnd, snapshot)) {
        for (const [key, value] of chunk) entries.push([stateKeyOf(key), value]);
      }
      const head = decodeHead(await this.db.get(headKey, { snapshot }));
      return await loadFrom(entries, head.seq, (from, until) => this.records(from, until, snapshot));
    } finally {
      await snapshot.close();
    }
  }

  /** Walks the chain and reads the head record in one snapshot, so it may run while the log is written. */
  async verify(options: VerifyOptions = {}): Promise<VerifyResult> {
    this.assertOpen();
    const verifier = verifierFor(this.schema, options.onRecord);
    const snapshot = this.db.snapshot();
    try {
      let seq = 1;
      for await (const entries of this.chunks(logStart, logEnd, snapshot)) {
        for (const [key, chunk] of entries) {
          // Each record is checked as the next in sequence: its own seq, hash and link name the first bad one.
          for (const record of chunk.split('\n')) {
            const problem = verifier.push(seq, record);
            if (problem !== null) return problem;
            seq++;
          }
          const keySeq = seqOfLogKey(key);
          if (keySeq !== seq - 1) {
            const first = Math.min(keySeq, seq - 1) + 1;
            return { ok: false, seq: first, problem: 'gap', message: `the chunk ending at seq ${seq - 1} is stored under seq ${keySeq}: reads from ${first} would miss records` };
          }
        }
      }
      return checkHead(verifier.result(), decodeHead(await this.db.get(headKey, { snapshot })));
    } finally {
      await snapshot.close();
    }
  }

  /** Decoded records `from`..`until`; a LevelDB iterator opens on the first next(). */
  private records(from: number, until: number, snapshot: Snapshot | undefined): AsyncIterable<RecordedEvent> {
    return {
      [Symbol.asyncIterator]: () =>
        new RecordIterator(from, until, this.schema, () => {
          this.openIterators++;
          // The chunk holding `from` is the first keyed at or after it; the one holding `until` ends within a chunk's length of it.
          const lte = logKey(Math.min(until + logChunkEventsMax - 1, Number.MAX_SAFE_INTEGER));
          const iterator = this.db.iterator({ gte: logKey(from), lte, fillCache: false, highWaterMarkBytes: logReadAheadBytes, snapshot });
          return {
            nextv: async () => {
              for (;;) {
                const chunks = await iterator.nextv(logReadBatchEntries);
                if (chunks.length === 0) return [];
                const records = recordsOf(chunks, from, until);
                if (records.length > 0) return records;
              }
            },
            close: async () => {
              this.openIterators--;
              await iterator.close();
            },
          };
        }),
    };
  }

  /** Raw entries of [gte, lt), a chunk at a time, the iterator always closed. */
  private async *chunks(gte: Buffer, lt: Buffer, snapshot: Snapshot): AsyncGenerator<[Buffer, string][]> {
    const iterator = this.db.iterator({ gte, lt, fillCache: false, highWaterMarkBytes: logReadAheadBytes, snapshot });
    this.openIterators++;
    try {
      for (;;) {
        const chunk = await iterator.nextv(logReadBatchEntries);
        if (chunk.length === 0) return;
        yield chunk;
      }
    } finally {
      this.openIterators--;
      await iterator.close();
    }
  }

  /**
   * Waits for queued writes to be durable, then closes the database. A clean
   * close also moves LevelDB's write buffer into a table (compacting the
   * one-key range of the head record flushes it first), so the next open
   * does not replay up to `levelWriteBufferBytes` of write-ahead log.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writer.settle();
    this.writer.close();
    try {
      await this.db.compactRange(headKey, headKey);
    } finally {
      await this.db.close();
    }
  }

  private async commit(b: ChainedBatch<Db, Buffer, string>, sealed: Sealed): Promise<void> {
    for (const [key, value] of sealed.projections) {
      if (value === undefined) b.del(projectionKey(key));
      else b.put(projectionKey(key), value);
    }
    b.put(headKey, encodeHead(sealed.head));
    try {
      await b.write({ sync: true });
    } catch (e) {
      if (!isNoSpace(e)) throw e;
      throw new PloppyError(
        'DISK_FULL',
        `the disk holding the event log at ${this.location} is full: events after seq ${this.durable.seq} were not recorded ` +
          '(everything recorded before is intact); free some space and start ploppy again',
        { path: this.location, durableSeq: this.durable.seq },
      );
    }
    this.durable = sealed.head;
  }

  private assertOpen(): void {
    if (this.closed) throw new PloppyError('LOG_CLOSED', `the event log at ${this.location} is closed`);
  }
}

interface LevelError {
  code?: unknown;
  cause?: { code?: unknown; message?: unknown };
  message?: unknown;
}

/** LevelDB's failure for a full disk (it keeps the errno only in the message). */
function isNoSpace(e: unknown): boolean {
  const err = e as LevelError;
  const says = (x: { code?: unknown; message?: unknown } | undefined): boolean =>
    x?.code === 'LEVEL_IO_ERROR' && typeof x.message === 'string' && /No space left on device|Disk quota exceeded/.test(x.message);
  return says(err) || says(err?.cause);
}

/** Name the common failures (another process holds the LOCK; a full disk) clearly; pass others through. */
function openError(e: unknown, location: string): Error {
  const err = e as LevelError;
  if (isNoSpace(e)) {
    return new PloppyError('DISK_FULL', `cannot open the event log at ${location}: the disk holding it is full; free some space and try again`, {
      path: location,
    });
  }
  if (err?.code === 'LEVEL_DATABASE_NOT_OPEN' && err.cause?.code === 'LEVEL_LOCKED') {
    return new PloppyError(
      'LOG_LOCKED',
      `the event log at ${location} is in use by another process (its LOCK file is held); stop that ploppy process or use another --home`,
      { path: location },
    );
  }
  return e instanceof Error ? e : new Error(String(e));
}
