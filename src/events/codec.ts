/**
 * Record codec and hash chain.
 *
 * A stored record is `HASH BODY`: 64 hex characters of SHA-256 over BODY,
 * immediately followed by BODY, the JSON of the record with its `prev` link
 * (the previous record's hash). Checking a record needs only its own bytes
 * (its hash) and its predecessor's hash (the link), so verification names the
 * first sequence number at which anything was flipped, removed, reordered or
 * inserted. This record format has not changed since the first log; how
 * records are grouped on disk (LevelDB keeps them in chunks of consecutive
 * records joined by newlines) is the store's layout, in src/store/encoding.ts.
 *
 * Reading goes through upcasters: a record written with an older schema
 * version is lifted to the current one; an unknown type or a version newer
 * than this build is a coded error, never a crash.
 */
import { PloppyError } from '../core/errors.js';
import type { Hasher } from '../core/ports.js';
import type { Seq } from '../core/ids.js';
import { currentVersions, genesisHash, isEventType, type Event, type EventType, type PendingEvent, type RecordedEvent } from './types.js';

export type Upcaster = (data: unknown) => unknown;
/** upcasters[type][v] lifts data from schema version v to v + 1. */
export type UpcasterRegistry = Partial<Record<EventType, Readonly<Record<number, Upcaster>>>>;

/** No schema has changed yet; entries go here when one does. */
export const upcasters: UpcasterRegistry = {};

/** The schema version a reader lifts every record to (injectable so tests can exercise upcasters). */
export type SchemaVersions = Readonly<Record<EventType, number>>;

const hashLength = 64;

export function encodeBody(e: PendingEvent, seq: Seq, prev: string): string {
  // One stringify of a literal with the fields in record order: a single flat
  // string, where concatenating pieces would build a rope the hash must copy.
  return JSON.stringify({
    seq, id: e.id, hlc: { wallMs: e.hlc.wallMs, counter: e.hlc.counter }, peer: e.peer, v: currentVersions[e.type], type: e.type, data: e.data, prev,
  });
}

export interface Encoded {
  readonly value: string;
  readonly hash: string;
}

export function encodeRecord(e: PendingEvent, seq: Seq, prev: string, hasher: Hasher): Encoded {
  const body = encodeBody(e, seq, prev);
  const hash = hasher.sha256(body);
  return { value: hash + body, hash };
}

/** Parse a stored value into a record (no hash check: see verifyRecord). */
export function decodeRecord(value: string, registry: UpcasterRegistry = upcasters, versions: SchemaVersions = currentVersions): RecordedEvent {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(value.slice(hashLength)) as Record<string, unknown>;
  } catch {
    throw new PloppyError('LOG_CORRUPT', 'record is not valid JSON');
  }
  if (typeof raw !== 'object' || raw === null) throw new PloppyError('LOG_CORRUPT', 'record is not an object');
  const type = raw.type;
  if (!isEventType(type)) {
    throw new PloppyError('EVENT_UNKNOWN_TYPE', `event type ${JSON.stringify(type)} is not known to this build of ploppy`, {
      seq: raw.seq,
      type,
    });
  }
  const v = raw.v;
  const current = versions[type];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > current) {
    throw new PloppyError('EVENT_UNKNOWN_VERSION', `${type} schema version ${String(v)} is not readable (this build reads 1..${current})`, {
      seq: raw.seq,
    });
  }
  let data = raw.data;
  for (let from = v; from < current; from++) {
    const up = registry[type]?.[from];
    if (up === undefined) throw new PloppyError('EVENT_UNKNOWN_VERSION', `no upcaster for ${type} v${from}`, { seq: raw.seq });
    data = up(data);
  }
  // An explicit literal, not a spread: every record gets the same hidden class,
  // which replay (a million records) feels. Fields beyond the envelope are not kept.
  return {
    seq: raw.seq, id: raw.id, hlc: raw.hlc, peer: raw.peer, v: current, type, data, prev: raw.prev,
    hash: value.slice(0, hashLength),
  } as RecordedEvent;
}

export type VerifyProblem =
  | 'gap'
  | 'hash-mismatch'
  | 'broken-link'
  | 'unreadable';

export interface VerifyFailure {
  readonly ok: false;
  readonly seq: number;
  readonly problem: VerifyProblem;
  readonly message: string;
}
export type VerifyResult = { readonly ok: true; readonly head: number; readonly headHash: string } | VerifyFailure;

/**
 * Walk stored records in key order and check the chain. `key` is the sequence
 * number the record was stored under.
 */
export function verifyChain(
  records: Iterable<{ key: number; value: string }>,
  hasher: Hasher,
  registry: UpcasterRegistry = upcasters,
  versions: SchemaVersions = currentVersions,
): VerifyResult {
  const v = chainVerifier(hasher, registry, versions);
  for (const r of records) {
    const problem = v.push(r.key, r.value);
    if (problem !== null) return problem;
  }
  return v.result();
}

/** Sees each record that passed its checks, decoded, in sequence order (see chainVerifier). */
export type RecordSink = (record: RecordedEvent) => void;

/**
 * Incremental form of verifyChain, for async iteration over a store. Every
 * record that passes is handed to `onRecord`, so a caller that needs the
 * records too (a replay with --verify, the simulator's verdict) reads and
 * decodes the log once, not twice.
 */
export function chainVerifier(
  hasher: Hasher, registry: UpcasterRegistry = upcasters, versions: SchemaVersions = currentVersions, onRecord?: RecordSink,
) {
  let expectedSeq = 1;
  let prev = genesisHash;
  const fail = (seq: number, problem: VerifyProblem, message: string): VerifyFailure => ({ ok: false, seq, problem, message });
  return {
    push(key: number, value: string): VerifyFailure | null {
      if (key !== expectedSeq) return fail(expectedSeq, 'gap', `expected seq ${expectedSeq}, found ${key}`);
      const stored = value.slice(0, hashLength);
      if (hasher.sha256(value.slice(hashLength)) !== stored) return fail(key, 'hash-mismatch', `seq ${key}: record bytes do not match its hash`);
      let rec: RecordedEvent;
      try {
        rec = decodeRecord(value, registry, versions);
      } catch (e) {
        return fail(key, 'unreadable', `seq ${key}: ${(e as Error).message}`);
      }
      if (rec.seq !== key) return fail(key, 'gap', `seq ${key}: record says seq ${rec.seq}`);
      if (rec.prev !== prev) return fail(key, 'broken-link', `seq ${key}: previous-hash link does not match seq ${key - 1}`);
      prev = stored;
      expectedSeq++;
      onRecord?.(rec);
      return null;
    },
    result(): VerifyResult {
      return { ok: true, head: expectedSeq - 1, headHash: prev };
    },
  };
}

/** Strip the envelope: the domain event alone. */
export const bodyOf = (r: RecordedEvent): Event => ({ type: r.type, data: r.data }) as Event;
