/**
 * Tamper evidence: any single corruption of a stored LevelDB log (a flipped
 * bit in a chunk, a deleted record, two records swapped, a forged record
 * inserted) is caught by verify(), which names the exact first bad sequence.
 *
 * What "first bad" means for an insertion: a forgery that fakes its link
 * (right seq, right prev, valid hash) is indistinguishable from the record it
 * displaced, so the first inconsistency is the displaced record, one later. A
 * careless forgery (wrong link) is caught at its own position. Without a
 * secret key nothing can catch a forged record appended together with a
 * rewritten head record; the head record does catch an append alone.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ClassicLevel } from 'classic-level';
import fc from 'fast-check';
import type { Seq } from '../../src/core/ids.js';
import { encodeRecord } from '../../src/events/codec.js';
import type { PendingEvent, RecordedEvent } from '../../src/events/types.js';
import { evolveAll, initialState } from '../../src/projections/state.js';
import { logEnd, logKey, logStart, seqOfLogKey } from '../../src/store/encoding.js';
import { LevelEventLog } from '../../src/store/level-event-log.js';
import { nodeHasher } from '../../src/store/node-ports.js';
import { blockHashArb, pendingEventArb, stampedSequenceArb } from './arbitraries.js';

const root = mkdtempSync(join(tmpdir(), 'ploppy-prop-corruption-'));
let databases = 0;

/** Stored records by sequence number (raw bytes). */
type Stored = Map<number, Buffer>;
/** The stored chunks as they are on disk: last sequence -> the records joined by newlines. */
type Chunks = [number, Buffer][];

type Corruption =
  | { kind: 'flip'; seq: number; byte: number; bit: number }
  | { kind: 'delete'; seq: number }
  | { kind: 'swap'; a: number; b: number }
  | { kind: 'insert-linked'; at: number; forged: PendingEvent }
  | { kind: 'insert-unlinked'; at: number; forged: PendingEvent; prev: string };

/**
 * Flip one bit of record `seq` where it lies in its chunk: in its bytes or in
 * the newline after it (which joins it with the next record). Returns `seq`.
 */
function flip(chunks: Chunks, c: Extract<Corruption, { kind: 'flip' }>): number {
  let first = 1;
  for (const [last, bytes] of chunks) {
    if (c.seq > last) {
      first = last + 1;
      continue;
    }
    let start = 0;
    for (let seq = first; seq < c.seq; seq++) start = bytes.indexOf(0x0a, start) + 1;
    const next = bytes.indexOf(0x0a, start);
    const end = next === -1 ? bytes.length : next + 1;
    const at = start + (c.byte % (end - start));
    bytes[at] = (bytes[at] as number) ^ (1 << c.bit);
    return c.seq;
  }
  throw new Error(`no chunk holds seq ${c.seq}`);
}

/** Apply a corruption other than a flip to the stored records; returns the sequence verify must name. */
function corrupt(stored: Stored, c: Exclude<Corruption, { kind: 'flip' }>): number {
  const n = stored.size;
  const value = (seq: number): Buffer => stored.get(seq) as Buffer;
  switch (c.kind) {
    case 'delete':
      stored.delete(c.seq);
      return c.seq;
    case 'swap': {
      const [a, b] = [value(c.a), value(c.b)];
      stored.set(c.a, b);
      stored.set(c.b, a);
      return Math.min(c.a, c.b);
    }
    case 'insert-linked':
    case 'insert-unlinked': {
      const prev = c.kind === 'insert-unlinked' ? c.prev : c.at === 1 ? '0'.repeat(64) : value(c.at - 1).toString('utf8', 0, 64);
      for (let seq = n; seq >= c.at; seq--) stored.set(seq + 1, value(seq));
      stored.set(c.at, Buffer.from(encodeRecord(c.forged, c.at as Seq, prev, nodeHasher).value));
      if (c.kind === 'insert-unlinked') return c.at;
      return c.at <= n ? c.at + 1 : n + 1;
    }
  }
}

const corruptionArb = (n: number): fc.Arbitrary<Corruption> => {
  const seqArb = fc.integer({ min: 1, max: n });
  return fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), seq: seqArb, byte: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }, { noNullPrototype: true }),
    fc.record({ kind: fc.constant('delete' as const), seq: seqArb }, { noNullPrototype: true }),
    fc.tuple(seqArb, seqArb).filter(([a, b]) => a !== b).map(([a, b]) => ({ kind: 'swap' as const, a, b })),
    fc.record({ kind: fc.constant('insert-linked' as const), at: fc.integer({ min: 1, max: n + 1 }), forged: pendingEventArb() }, { noNullPrototype: true }),
    fc.record({ kind: fc.constant('insert-unlinked' as const), at: fc.integer({ min: 1, max: n + 1 }), forged: pendingEventArb(), prev: blockHashArb }, { noNullPrototype: true }),
  );
};

/** The records of stored chunks by sequence (records hold no raw newline, so the newlines split them). */
function recordsOf(chunks: Chunks): Stored {
  const stored: Stored = new Map();
  let seq = 1;
  for (const [, bytes] of chunks) {
    for (let start = 0; start <= bytes.length; seq++) {
      const end = bytes.indexOf(0x0a, start) === -1 ? bytes.length : bytes.indexOf(0x0a, start);
      stored.set(seq, bytes.subarray(start, end));
      start = end + 1;
    }
  }
  return stored;
}

/**
 * Corrupt the stored log: a flip in place, in its chunk; anything else on the
 * records, written back as chunks of one record each, keyed by where the
 * corruption left them (a valid layout: the key is the chunk's last sequence).
 */
async function rewriteLog(location: string, c: Corruption): Promise<number> {
  const db = new ClassicLevel<Buffer, Buffer>(location, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  try {
    const chunks: Chunks = [];
    for await (const [key, value] of db.iterator({ gte: logStart, lt: logEnd })) chunks.push([seqOfLogKey(key), Buffer.from(value)]);
    const batch = db.batch();
    for (const key of await db.keys({ gte: logStart, lt: logEnd }).all()) batch.del(key);
    let expected: number;
    if (c.kind === 'flip') {
      expected = flip(chunks, c);
      for (const [last, value] of chunks) batch.put(logKey(last), value);
    } else {
      const stored = recordsOf(chunks);
      expected = corrupt(stored, c);
      for (const [seq, value] of stored) batch.put(logKey(seq), value);
    }
    await batch.write();
    return expected;
  } finally {
    await db.close();
  }
}

describe('verify detects any single corruption of a stored log', () => {
  after(() => rmSync(root, { recursive: true, force: true }));

  it('and names the first bad sequence', async () => {
    const scenario = stampedSequenceArb({ minLength: 2, maxLength: 25 }).chain((events) => fc.tuple(fc.constant(events), corruptionArb(events.length)));
    await fc.assert(
      fc.asyncProperty(scenario, async ([events, corruption]) => {
        const dir = join(root, `db-${databases++}`);
        const log = await LevelEventLog.open(dir);
        const state = evolveAll(initialState(), events.slice(0, -1) as unknown as RecordedEvent[]);
        const first = log.write(events.slice(0, -1), state);
        evolveAll(state, events.slice(-1) as unknown as RecordedEvent[]);
        await Promise.all([first, log.write(events.slice(-1), state)]);
        assert.equal((await log.verify()).ok, true);
        await log.close();

        const expected = await rewriteLog(dir, corruption);
        const reopened = await LevelEventLog.open(dir);
        try {
          const result = await reopened.verify();
          assert.equal(result.ok, false, `${corruption.kind} went unnoticed`);
          assert.equal(!result.ok && result.seq, expected, `${corruption.kind}: ${!result.ok && result.message}`);
        } finally {
          await reopened.close();
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 40 },
    );
  });
});
