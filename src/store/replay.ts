/**
 * Replay: rebuild projections from an empty state by folding the log, and
 * compare the result with the projections the store maintained incrementally.
 * Used by `ploppy replay` (offline, or inside the daemon when it holds the log).
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../core/json.js';
import { evolve, initialState, type State } from '../projections/state.js';
import { firstDifference, projectionNames, serialiseState } from '../projections/snapshot.js';
import type { VerifyResult } from '../events/codec.js';
import type { EventLog } from './event-log.js';

/**
 * SHA-256 of a state's canonical form, entry by entry in key order: two states
 * have the same digest exactly when firstDifference finds nothing between
 * them. Lets a comparison hold one state at a time (see replayReport).
 */
export function stateDigest(s: State): string {
  const h = createHash('sha256');
  h.update(canonicalJson(s.meta));
  for (const name of projectionNames) {
    const entries = s[name] as Map<string, unknown>;
    for (const key of [...entries.keys()].sort()) h.update(`\n${name} ${JSON.stringify(key)} ${canonicalJson(entries.get(key))}`);
  }
  return h.digest('hex');
}

/** The stored projections, or how to load them (again). */
export type StoredState = State | (() => Promise<State>);

/** A key set that keeps nothing: a rebuild is compared, never written key by key. */
class UntrackedKeys extends Set<string> {
  override add(): this {
    return this;
  }
}

/**
 * Fold the log from empty up to `until` (default: head). Dirty keys are not
 * tracked during the fold (a few percent of a million-event replay); the
 * state comes back with an empty, ordinary dirty set.
 */
export async function rebuild(log: EventLog, until?: number): Promise<State> {
  const state = initialState();
  state.dirty = new UntrackedKeys();
  for await (const e of log.read(until === undefined ? {} : { until })) evolve(state, e);
  state.dirty = new Set();
  return state;
}

/**
 * Check the chain and fold the log up to `until` in one pass over it. When
 * the chain is broken the fold stopped at the break, so the rebuild is done
 * again by reading past it (read() checks no hashes), as a plain rebuild would.
 */
async function verifyAndRebuild(log: EventLog, until: number): Promise<{ chain: VerifyResult; rebuilt: State }> {
  const state = initialState();
  state.dirty = new UntrackedKeys();
  const chain = await log.verify({ onRecord: (e) => void (e.seq <= until && evolve(state, e)) });
  state.dirty = new Set();
  return { chain, rebuilt: chain.ok ? state : await rebuild(log, until) };
}

export interface ReplayReport {
  readonly ok: boolean;
  readonly head: number;
  readonly replayedTo: number;
  readonly chain: VerifyResult;
  /** Null when the rebuild equals the stored projections (or when --until stops short of the head). */
  readonly difference: string | null;
  readonly compared: boolean;
  readonly files: number;
  readonly peers: number;
  readonly conflicts: number;
  readonly transfers: number;
  /** Decision re-run result, when asked (--verify). */
  readonly decisions?: { readonly ok: boolean; readonly checked: number; readonly firstMismatch: string | null };
}

export type DecisionVerifier = (log: EventLog, until: number) => Promise<{ ok: boolean; checked: number; firstMismatch: string | null }>;

/**
 * Rebuild, compare with `stored` (the incrementally maintained projections)
 * and check the hash chain. With `until` below the head the rebuild is the
 * state as of that sequence and there is nothing stored to compare it with.
 * Given as a loader (`ploppy replay` offline), the stored state is reduced
 * to its digest and let go before the rebuild, so only one state is in memory
 * at a time; it is loaded again to name the first difference when the
 * digests differ.
 */
export async function replayReport(
  log: EventLog,
  stored: StoredState,
  options: { until?: number; verifyDecisions?: DecisionVerifier } = {},
): Promise<ReplayReport> {
  const head = log.head();
  const until = options.until === undefined ? head : Math.min(options.until, head);
  const compared = until === head;
  const storedDigest = compared && typeof stored === 'function' ? stateDigest(await stored()) : null;
  const { chain, rebuilt } = await verifyAndRebuild(log, until);
  let difference: string | null = null;
  if (compared && typeof stored !== 'function') difference = firstDifference(stored, rebuilt);
  else if (compared && typeof stored === 'function' && stateDigest(rebuilt) !== storedDigest) {
    difference = firstDifference(await stored(), rebuilt) ?? 'the stored state changed while it was compared';
  }
  const decisions = options.verifyDecisions === undefined ? undefined : await options.verifyDecisions(log, until);
  const ok = chain.ok && difference === null && (decisions?.ok ?? true);
  return {
    ok, head, replayedTo: until, chain, difference, compared,
    files: rebuilt.files.size, peers: rebuilt.peers.size, conflicts: rebuilt.conflicts.size, transfers: rebuilt.transfers.size,
    ...(decisions === undefined ? {} : { decisions }),
  };
}

/** Hash of a state's canonical serialisation, for quick comparisons in reports. */
export const stateText = serialiseState;
