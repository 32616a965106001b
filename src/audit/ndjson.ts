/**
 * Export and import of a log as NDJSON: one recorded event per line, exactly
 * the fields the store hashed (`seq, id, hlc, peer, v, type, data, prev`, in
 * that order) plus `hash`. Anyone can check a file without ploppy: each
 * line's `hash` is SHA-256 over the line's JSON without `hash`, and each
 * `prev` is the line before's `hash` (64 zeros before seq 1).
 *
 * Importing checks every line as it streams (shape, hash, sequence, link),
 * decodes it through the codec (so unknown types and schema versions are named,
 * not crashed on), folds it, and ends with a projection hash: SHA-256 over the
 * canonical serialisation of the rebuilt projections. Two logs that fold to
 * the same projections give the same projection hash, so an export compared
 * with its import, or a peer with its replay, is one string comparison.
 *
 * An export that starts past seq 1 (`--from`) still verifies (its first `prev`
 * anchors it to the record before), but cannot rebuild projections, which
 * need the log from its start.
 */
import type { Hasher } from '../core/ports.js';
import { decodeRecord } from '../events/codec.js';
import { genesisHash, type RecordedEvent } from '../events/types.js';
import { evolve, initialState, type State } from '../projections/state.js';
import { serialiseState } from '../projections/snapshot.js';
import { nodeHasher } from '../store/node-ports.js';
import { DecisionChecker, type DecisionCheck } from '../engine/verify.js';

/** The hashed body of a record: the store's field order (encodeBody in src/events/codec.ts). */
function bodyOf(r: RecordedEvent): string {
  return JSON.stringify({ seq: r.seq, id: r.id, hlc: { wallMs: r.hlc.wallMs, counter: r.hlc.counter }, peer: r.peer, v: r.v, type: r.type, data: r.data, prev: r.prev });
}

/** One export line (no newline). */
export function exportLine(r: RecordedEvent): string {
  const body = bodyOf(r);
  return `${body.slice(0, -1)},"hash":${JSON.stringify(r.hash)}}`;
}

/** SHA-256 over the canonical serialisation of the projections. */
export const projectionHash = (s: State, hasher: Hasher = nodeHasher): string => hasher.sha256(serialiseState(s));

export type LineProblem = 'unreadable' | 'hash-mismatch' | 'gap' | 'broken-link';

export interface ChainProblem {
  readonly line: number;
  readonly seq: number | null;
  readonly problem: LineProblem;
  readonly message: string;
}

const hex64 = /^[0-9a-f]{64}$/;

/** Checks export lines one at a time: shape, own hash, gapless sequence, link to the line before. */
export class LineVerifier {
  private expectedSeq: number | null = null;
  private prev: string | null = null;
  private lineNo = 0;
  /** The first record's `prev` and seq, once seen. */
  anchor: { seq: number; prev: string } | null = null;
  last: { seq: number; hash: string } | null = null;

  constructor(private readonly hasher: Hasher = nodeHasher) {}

  /** The record on `line`, or the problem with it; blank lines give null. */
  push(line: string): RecordedEvent | ChainProblem | null {
    this.lineNo++;
    if (line.trim() === '') return null;
    const parsed = this.parse(line);
    if ('problem' in parsed) return parsed;
    const r = parsed;
    const fail = (problem: LineProblem, message: string): ChainProblem => ({ line: this.lineNo, seq: r.seq, problem, message });
    const body = bodyOf(r);
    if (this.hasher.sha256(body) !== r.hash) return fail('hash-mismatch', `seq ${r.seq}: the line's fields do not hash to its hash`);
    if (this.expectedSeq !== null && r.seq !== this.expectedSeq) return fail('gap', `expected seq ${this.expectedSeq}, found ${r.seq}`);
    const expectedPrev = this.prev ?? (r.seq === 1 ? genesisHash : r.prev);
    if (r.prev !== expectedPrev) return fail('broken-link', `seq ${r.seq}: prev does not match the hash of seq ${r.seq - 1}`);
    let decoded: RecordedEvent;
    try {
      decoded = decodeRecord(r.hash + body);
    } catch (e) {
      return fail('unreadable', `seq ${r.seq}: ${(e as Error).message}`);
    }
    this.anchor ??= { seq: r.seq, prev: r.prev };
    this.expectedSeq = r.seq + 1;
    this.prev = r.hash;
    this.last = { seq: r.seq, hash: r.hash };
    return decoded;
  }

  private parse(line: string): RecordedEvent | ChainProblem {
    const bad = (message: string): ChainProblem => ({ line: this.lineNo, seq: null, problem: 'unreadable', message: `line ${this.lineNo}: ${message}` });
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      return bad('not valid JSON');
    }
    const o = raw as Record<string, unknown> | null;
    if (o === null || typeof o !== 'object' || Array.isArray(o)) return bad('not a JSON object');
    const hlc = o.hlc as Record<string, unknown> | undefined;
    const ok = Number.isSafeInteger(o.seq) && (o.seq as number) >= 1 && typeof o.id === 'string' && typeof o.peer === 'string' &&
      typeof o.type === 'string' && Number.isSafeInteger(o.v) && typeof hlc === 'object' && hlc !== null &&
      Number.isSafeInteger(hlc.wallMs) && Number.isSafeInteger(hlc.counter) && typeof o.prev === 'string' && hex64.test(o.prev) &&
      typeof o.hash === 'string' && hex64.test(o.hash) && 'data' in o;
    return ok ? (o as unknown as RecordedEvent) : bad('not a recorded event (seq, id, hlc, peer, v, type, data, prev, hash)');
  }
}

export interface ImportReport {
  readonly ok: boolean;
  /** Records read and checked. */
  readonly events: number;
  readonly firstSeq: number | null;
  readonly head: number;
  readonly headHash: string | null;
  /** False when the file starts past seq 1: the chain is checked, projections are not rebuilt. */
  readonly complete: boolean;
  readonly problem: ChainProblem | null;
  /** SHA-256 of the rebuilt projections' canonical serialisation (null when not rebuilt). */
  readonly projectionHash: string | null;
  readonly self: string | null;
  readonly files: number;
  readonly peers: number;
  readonly conflicts: number;
  readonly transfers: number;
  readonly decisions?: DecisionCheck;
}

export interface ImportResult {
  readonly report: ImportReport;
  /** The rebuilt projections (complete imports only). */
  readonly state: State | null;
  /** The records, when asked to keep them. */
  readonly records: RecordedEvent[] | null;
}

/**
 * Check and fold export lines. Stops at the first bad line (the report names
 * it). `verifyDecisions` re-runs the engine's decisions over the inputs, as
 * `replay --verify` does.
 */
export async function importLines(
  lines: AsyncIterable<string> | Iterable<string>,
  options: { verifyDecisions?: boolean; keepRecords?: boolean; hasher?: Hasher } = {},
): Promise<ImportResult> {
  const verifier = new LineVerifier(options.hasher);
  const state = initialState();
  const checker = options.verifyDecisions === true ? new DecisionChecker() : null;
  const records: RecordedEvent[] | null = options.keepRecords === true ? [] : null;
  let problem: ChainProblem | null = null;
  let events = 0;
  for await (const line of lines) {
    const r = verifier.push(line);
    if (r === null) continue;
    if ('problem' in r) {
      problem = r;
      break;
    }
    events++;
    records?.push(r);
    if (verifier.anchor?.seq !== 1) continue;
    evolve(state, r);
    checker?.push(r);
  }
  state.dirty.clear();
  const complete = verifier.anchor?.seq === 1 || events === 0;
  const decisions = checker?.result();
  const rebuilt = complete && problem === null;
  const report: ImportReport = {
    ok: problem === null && (decisions?.ok ?? true),
    events, firstSeq: verifier.anchor?.seq ?? null, head: verifier.last?.seq ?? 0, headHash: verifier.last?.hash ?? null,
    complete, problem, projectionHash: rebuilt ? projectionHash(state, options.hasher) : null, self: state.meta.self,
    files: state.files.size, peers: state.peers.size, conflicts: state.conflicts.size, transfers: state.transfers.size,
    ...(decisions === undefined ? {} : { decisions }),
  };
  return { report, state: rebuilt ? state : null, records };
}
