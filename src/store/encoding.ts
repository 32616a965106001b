/**
 * How the event store lays out its bytes, in one place for both EventLog
 * implementations (LevelDB and memory).
 *
 * One LevelDB database holds three key spaces, each under a one-byte prefix
 * (a fixed-prefix form of sublevels: cheaper per key, and range scans are
 * plain byte ranges):
 *
 * - `L` + 8-byte big-endian sequence number N -> a chunk: the records
 *   N-k+1..N, each `HASH BODY` as produced by `encodeRecord`
 *   (src/events/codec.ts), joined by a newline (JSON.stringify never emits a
 *   raw one, so a newline cannot occur inside a record). Big-endian fixed
 *   width makes byte order equal numeric order, so a range scan reads in
 *   sequence, and keying a chunk by its last record makes the chunk holding
 *   record S the first key at or after S. A chunk lies within one batch and
 *   holds at most `logChunkEventsMax` records (level-event-log.ts), which
 *   bounds where the chunk holding the last record of a range ends.
 *   Layout history: version 1 stored one record per key; that is a chunk of
 *   one, so a log written by it reads (and verifies) unchanged.
 * - `P` + a State key (`m`, `f/PATH`, `p/PEER`, `c/COPYPATH`, `t/PATH`) -> the
 *   JSON of that projection entry (`valueForKey` in src/projections/snapshot.ts),
 *   as of the last projection checkpoint; the `m` entry's `head` is the log
 *   sequence the stored projections reflect.
 * - `M` -> the head record `{"seq":N,"hash":"..."}`: the last sequence in the
 *   log and its hash, as of the last batch.
 *
 * The log sorts first on purpose: every batch also writes the head key (and
 * checkpoints the projection keys), so a flushed LevelDB table spans from its
 * newest records to those keys. With the log first, that span never covers
 * older records, and compaction does not rewrite the whole log each time.
 *
 * Every batch writes its records and the head record atomically, and a
 * checkpoint batch (writer.ts) also the projection entries dirtied since the
 * last one, so on disk the projections always reflect a committed prefix of
 * the log, never a half batch and never more than the log holds; a cold start
 * folds the records after that prefix. A truncated log (last record removed)
 * is caught by comparing the walk of the chain with the head record.
 *
 * The memory implementation stores the same values (record strings,
 * projection JSON, head JSON) under the same logical keys, one record per
 * entry (chunks of one), so both go through the same codec on the way in and out.
 */
import { AssertionError, assert } from '../core/assert.js';
import { PloppyError } from '../core/errors.js';
import { genesisHash } from '../events/types.js';
import type { Meta, State } from '../projections/state.js';
import { projectionPrefixes } from '../projections/state.js';

const logPrefix = 0x4c; // 'L'
const projectionPrefix = 0x50; // 'P'
const headPrefix = 0x4d; // 'M', after the log (see above)
const twoTo32 = 2 ** 32;

/** The LevelDB key of record `seq`: 'L' then the sequence as 8 bytes big-endian. */
export const logKey = (seq: number): Buffer => writeLogKey(Buffer.allocUnsafe(9), seq);

/** Write the key of record `seq` into `key` (9 bytes) and return it. */
export function writeLogKey(key: Buffer, seq: number): Buffer {
  assert(Number.isSafeInteger(seq) && seq >= 0 && key.length === 9, `log key for a bad sequence ${seq}`);
  key[0] = logPrefix;
  key.writeUInt32BE(Math.floor(seq / twoTo32), 1);
  key.writeUInt32BE(seq % twoTo32, 5);
  return key;
}

/** The sequence number a log key encodes (the inverse of logKey). */
export function seqOfLogKey(key: Uint8Array): number {
  const view = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  if (view.length !== 9 || view[0] !== logPrefix) throw new PloppyError('LOG_CORRUPT', `malformed log key ${view.toString('hex')}`);
  return view.readUInt32BE(1) * twoTo32 + view.readUInt32BE(5);
}

/** Every key of the log sits in [logStart, logEnd). */
export const logStart = Buffer.from([logPrefix]);
export const logEnd = Buffer.from([logPrefix + 1]);

/** The LevelDB key of a State key ('m', 'f/PATH', ...): 'P' then its UTF-8. */
export const projectionKey = (stateKey: string): Buffer => Buffer.from(`P${stateKey}`, 'utf8');
/** The State key a projection key stores (the inverse of projectionKey). */
export const stateKeyOf = (key: Uint8Array): string => Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('utf8', 1);
/** Every projection key sits in [projectionStart, projectionEnd). */
export const projectionStart = Buffer.from([projectionPrefix]);
export const projectionEnd = Buffer.from([projectionPrefix + 1]);

/** The key of the head record. */
export const headKey = Buffer.from([headPrefix]);

/** The last record of the log as of the last durable batch. */
export interface HeadRecord {
  readonly seq: number;
  readonly hash: string;
}

/** The head of an empty log: nothing written, the genesis hash. */
export const emptyHead: HeadRecord = Object.freeze({ seq: 0, hash: genesisHash });

/** The stored form of a head record. */
export const encodeHead = (h: HeadRecord): string => JSON.stringify({ seq: h.seq, hash: h.hash });

/** Read a stored head record (absent: an empty log); a malformed one is LOG_CORRUPT. */
export function decodeHead(value: string | undefined): HeadRecord {
  if (value === undefined) return emptyHead;
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    throw new PloppyError('LOG_CORRUPT', 'the stored head record is not valid JSON');
  }
  const h = raw as Partial<HeadRecord> | null;
  if (h === null || typeof h !== 'object' || !Number.isSafeInteger(h.seq) || (h.seq as number) < 0 || typeof h.hash !== 'string' || !/^[0-9a-f]{64}$/.test(h.hash)) {
    throw new PloppyError('LOG_CORRUPT', `the stored head record is malformed: ${value.slice(0, 200)}`);
  }
  return { seq: h.seq as number, hash: h.hash };
}

// ------------------------------------------------------------ projections

/**
 * A projection entry as captured when a write is enqueued: the value object
 * itself (undefined when the key was removed). Capturing references is safe
 * because evolve replaces entries and never mutates them (their fields are
 * readonly); only `meta` is updated in place, so it is copied.
 */
export type CapturedEntries = Map<string, unknown>;

const prefixedNames = Object.entries(projectionPrefixes) as [keyof typeof projectionPrefixes, string][];

/** A copy of meta as it is now (evolve updates meta in place). A literal, so a new field is a compile error here. */
function metaCopy(m: Meta): Meta {
  return { self: m.self, networkId: m.networkId, name: m.name, dir: m.dir, joinedVia: m.joinedVia, left: m.left, head: m.head, hlc: m.hlc, ownCounter: m.ownCounter };
}

/** The projection a State key's first character names (every prefix is one letter and a slash). */
const projectionByLetter = new Map(prefixedNames.map(([name, prefix]) => [prefix.charCodeAt(0), name]));
assert(prefixedNames.every(([, prefix]) => prefix.length === 2 && prefix[1] === '/'), 'projection prefixes are a letter and a slash');

function entryFor(state: State, stateKey: string): unknown {
  if (stateKey === 'm') return metaCopy(state.meta);
  const name = projectionByLetter.get(stateKey.charCodeAt(0));
  if (name === undefined || stateKey.charCodeAt(1) !== 0x2f) throw new AssertionError(`unknown projection key ${JSON.stringify(stateKey)} in State.dirty`);
  return state[name].get(stateKey.slice(2));
}

/** Take the keys `state` marks dirty (draining the set) with their current entries. */
export function captureDirty(state: State, into: CapturedEntries = new Map()): CapturedEntries {
  for (const key of state.dirty) into.set(key, entryFor(state, key));
  state.dirty.clear();
  return into;
}

/**
 * The stored text of a captured entry, or undefined for a removed key. Equal
 * to `valueForKey` (src/projections/snapshot.ts) at capture time, so
 * `stateFromEntries` reads it back.
 */
export const encodeEntry = (entry: unknown): string | undefined => (entry === undefined ? undefined : JSON.stringify(entry));
