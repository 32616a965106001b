/**
 * What both EventLog implementations do the same way once the bytes are in
 * hand: decoding stored records in sequence, checking the chain against the
 * head record, and the cold start (stored projections plus the log tail).
 */
import { assert } from '../core/assert.js';
import { PloppyError } from '../core/errors.js';
import type { Hasher } from '../core/ports.js';
import { chainVerifier, decodeRecord, upcasters as defaultUpcasters, type RecordSink, type SchemaVersions, type UpcasterRegistry, type VerifyResult } from '../events/codec.js';
import { currentVersions, type RecordedEvent } from '../events/types.js';
import { stateFromEntries } from '../projections/snapshot.js';
import { evolve, type State } from '../projections/state.js';
import { nodeHasher } from './node-ports.js';
import type { HeadRecord } from './encoding.js';
import type { ReadOptions } from './event-log.js';

/** Options both implementations take. */
export interface LogOptions {
  /** SHA-256 for the hash chain (default: node:crypto). */
  readonly hasher?: Hasher;
  /** Upcasters applied when reading older schema versions (default: codec.ts's). */
  readonly upcasters?: UpcasterRegistry;
  /** The schema versions records are lifted to (default: the build's current ones). */
  readonly versions?: SchemaVersions;
}

/** The options with their defaults filled in. */
export interface Schema {
  readonly hasher: Hasher;
  readonly upcasters: UpcasterRegistry;
  readonly versions: SchemaVersions;
}

/** Fill in the defaults. */
export const schemaOf = (o: LogOptions): Schema => ({
  hasher: o.hasher ?? nodeHasher,
  upcasters: o.upcasters ?? defaultUpcasters,
  versions: o.versions ?? currentVersions,
});

/** The inclusive range a read covers; `until` defaults to `head`. */
export function readRange(options: ReadOptions, head: number): { from: number; until: number } {
  const from = options.from ?? 1;
  const until = Math.min(options.until ?? head, head);
  assert(Number.isSafeInteger(from) && from >= 1, `read from must be a sequence >= 1, got ${from}`);
  assert(Number.isSafeInteger(until) && until >= 0, `read until must be a sequence >= 0, got ${until}`);
  return { from, until };
}

/**
 * Decode the record stored as sequence `expectedSeq`. The hash is not checked
 * here (verify() does, separately, so replay can run at full speed), but a
 * record that claims another sequence number is refused.
 */
export function decodeStored(value: string, expectedSeq: number, schema: Schema): RecordedEvent {
  const record = decodeRecord(value, schema.upcasters, schema.versions);
  if (record.seq !== expectedSeq) {
    throw new PloppyError('LOG_CORRUPT', `the record stored as seq ${expectedSeq} says it is seq ${String(record.seq)}; run verify`, {
      seq: expectedSeq,
    });
  }
  return record;
}

/** The incremental chain check, fed one stored record at a time. */
export const verifierFor = (schema: Schema, onRecord?: RecordSink) => chainVerifier(schema.hasher, schema.upcasters, schema.versions, onRecord);

/**
 * Compare a clean walk of the chain with the stored head record, which every
 * batch rewrites: a missing tail, a record past the head or a replaced last
 * record shows up here and nowhere else.
 */
export function checkHead(walk: VerifyResult, stored: HeadRecord): VerifyResult {
  if (!walk.ok) return walk;
  if (walk.head < stored.seq) {
    const seq = walk.head + 1;
    return { ok: false, seq, problem: 'gap', message: `seq ${seq} is missing: the log ends at ${walk.head} but its head record says ${stored.seq}` };
  }
  if (walk.head > stored.seq) {
    const seq = stored.seq + 1;
    return { ok: false, seq, problem: 'gap', message: `seq ${seq} lies past the head record (${stored.seq}): it was not written by a batch` };
  }
  if (walk.headHash !== stored.hash) {
    return { ok: false, seq: walk.head, problem: 'broken-link', message: `seq ${walk.head}: its hash does not match the head record` };
  }
  return walk;
}

/**
 * The cold start: rebuild State from the stored projection entries, then fold
 * the records after the head they reflect up to `durableHead` (normally none:
 * projections are written in the same batch as the events). `tail` reads
 * records from the same view of the store as `entries`.
 */
export async function loadFrom(
  entries: Iterable<[string, string]>,
  durableHead: number,
  tail: (from: number, until: number) => AsyncIterable<RecordedEvent>,
): Promise<State> {
  let state: State;
  try {
    state = stateFromEntries(entries);
  } catch (e) {
    throw new PloppyError('LOG_CORRUPT', `the stored projections are unreadable (${(e as Error).message}); rebuild them with replay`);
  }
  if (state.meta.head > durableHead) {
    throw new PloppyError('LOG_CORRUPT', `the stored projections reflect seq ${state.meta.head} but the log ends at ${durableHead}`);
  }
  if (state.meta.head < durableHead) {
    for await (const e of tail(state.meta.head + 1, durableHead)) evolve(state, e);
  }
  return state;
}
