/**
 * The invariant checkers that run at the end of a simulation (DESIGN.md
 * "Invariants"); integrity and idempotence are checked as the run goes
 * (driver.ts, world.ts).
 *
 * Theory of operation
 * - Convergence (1) compares what users would see: every peer's disk (paths,
 *   types, modes, contents), each peer's disk with its own index, and the
 *   conflict sets.
 * - Replay (7) folds each peer's durable log from empty and compares it with
 *   the state the engine maintained, and verifies the hash chain.
 * - The same fold yields each peer's history: every version that ever entered
 *   its files projection, every version it observed locally, every conflict it
 *   detected. From the union of histories:
 *   - no lost write (2): every locally observed file or symlink version is
 *     dominated by the final version at its path, or by the loser of a
 *     conflict whose copy holds that loser's content on disk;
 *   - no resurrection (3): no live final version is strictly older than any
 *     version that ever existed at its path (a delete that followed it, or a
 *     newer edit, was undone). A version existed when some peer's files
 *     projection held it: it was on that peer's disk (observed, committed or
 *     merged) and in its index, which is all a peer ever announces. A
 *     decision that never got that far (a transfer's target, or a
 *     conflict's settled winner that was abandoned when its blocks were gone)
 *     was on no disk and reached no peer: nothing anyone did is undone when
 *     the path keeps what it held;
 *   - deterministic conflicts (4): every peer that met the same pair chose the
 *     same winner and the same copy name, and the winner is the one DESIGN.md's
 *     rule picks (modify beats delete, then later HLC, then larger author).
 */
import { compareHlc } from '../core/hlc.js';
import { shortPeer } from '../core/ids.js';
import { pathsOf, type EnvelopedEvent, type RecordedEvent } from '../events/types.js';
import type { FileVersion } from '../events/version.js';
import { compare, dominates } from '../core/vv.js';
import { evolve, initialState, type State } from '../projections/state.js';
import { firstDifference, projectionNames } from '../projections/snapshot.js';
import { sameValue } from '../engine/verify.js';
import type { DiskEntry } from './disk.js';
import type { SimPeer } from './peer.js';
import type { InvariantName } from './world.js';

export interface Finding {
  readonly invariant: InvariantName;
  readonly message: string;
}

const vvKey = (v: FileVersion): string => JSON.stringify(v.vv);
const versionKeys = new WeakMap<FileVersion, string>();
/** A version's identity in the history; remembered per version object (versions are immutable, and a fold meets the same one at every event at its path). */
function versionKey(v: FileVersion): string {
  let key = versionKeys.get(v);
  if (key === undefined) versionKeys.set(v, (key = `${vvKey(v)}|${v.deleted ? 'x' : ''}|${v.type}|${v.mode}|${v.blocks.join(',')}|${v.target ?? ''}`));
  return key;
}
const describeVersion = (v: FileVersion): string =>
  `${v.deleted ? 'tombstone' : v.type} vv=${vvKey(v)} by ${shortPeer(v.author)} @${v.hlc.wallMs}.${v.hlc.counter}${v.deleted ? '' : ` ${v.blocks.length} blocks`}`;

// ------------------------------------------------------------ convergence

const contentOf = (v: FileVersion): string => (v.type === 'file' ? v.blocks.join(',') : v.type === 'symlink' ? `-> ${v.target ?? ''}` : '');

/** The live entries of the index, in the disk snapshot's format. */
export function indexLines(s: State): string[] {
  const out: string[] = [];
  for (const [path, f] of s.files) if (!f.version.deleted) out.push(`${path} ${f.version.type} ${f.version.mode} ${contentOf(f.version)}`);
  return out.sort();
}

export function conflictLines(s: State): string[] {
  return [...s.conflicts.values()].map((c) => `${c.copyPath} <- ${c.path} winner ${vvKey(c.winner)} loser ${vvKey(c.loser)}`).sort();
}

function firstLineDifference(a: readonly string[], b: readonly string[]): string {
  const sa = new Set(a);
  const sb = new Set(b);
  const onlyA = a.find((x) => !sb.has(x));
  const onlyB = b.find((x) => !sa.has(x));
  return `${onlyA === undefined ? '' : `only in first: "${onlyA}"`}${onlyA !== undefined && onlyB !== undefined ? '; ' : ''}${onlyB === undefined ? '' : `only in second: "${onlyB}"`}`;
}

const sameLines = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** Why the peers' trees differ (from each other, or a disk from its own index), or []. */
export function treeProblems(peers: readonly SimPeer[], max = 4): string[] {
  const down = peers.find((p) => p.engine === null);
  if (down !== undefined) return [`p${down.index} is not running`];
  const out: string[] = [];
  const trees = peers.map((p) => p.disk.snapshot());
  for (const p of peers) {
    const disk = trees[p.index] as string[];
    const index = indexLines((p.engine as { state: State }).state);
    if (!sameLines(disk, index)) out.push(`p${p.index}'s disk and index differ: ${firstLineDifference(disk, index)}`);
  }
  for (const p of peers.slice(1)) {
    const tree = trees[p.index] as string[];
    if (!sameLines(trees[0] as string[], tree)) out.push(`p0 and p${p.index} have different trees: ${firstLineDifference(trees[0] as string[], tree)}`);
  }
  return out.slice(0, max);
}

/** Why the peers have not converged (trees first, then conflict sets), or [] when they have. */
export function convergenceProblems(peers: readonly SimPeer[], max = 4): string[] {
  const out = treeProblems(peers, max);
  if (out.length >= max || peers.some((p) => p.engine === null)) return out.slice(0, max);
  const conflicts = peers.map((p) => conflictLines((p.engine as { state: State }).state));
  for (const p of peers.slice(1)) {
    const c = conflicts[p.index] as string[];
    if (!sameLines(conflicts[0] as string[], c)) out.push(`p0 and p${p.index} have different conflict sets: ${firstLineDifference(conflicts[0] as string[], c)}`);
  }
  return out.slice(0, max);
}

export const convergenceProblem = (peers: readonly SimPeer[]): string | null => convergenceProblems(peers, 1)[0] ?? null;

// ------------------------------------------------------------ history

export interface ConflictSeen {
  readonly peer: number;
  /** The record was made deciding on a version another peer announced (not in the peer's own follow-up). */
  readonly fromRemote: boolean;
  readonly path: string;
  readonly copyPath: string;
  readonly winner: FileVersion;
  readonly loser: FileVersion;
  readonly rule: string;
}

export interface History {
  /** path -> versionKey -> version: everything that ever entered a files projection. */
  readonly versions: Map<string, Map<string, FileVersion>>;
  /** Versions peers observed on their own disk: [peer, version]. */
  readonly observed: [number, FileVersion][];
  readonly conflicts: ConflictSeen[];
}

export const emptyHistory = (): History => ({ versions: new Map(), observed: [], conflicts: [] });

function remember(h: History, v: FileVersion): void {
  let m = h.versions.get(v.path);
  if (m === undefined) h.versions.set(v.path, (m = new Map()));
  m.set(versionKey(v), v);
}

/**
 * What one peer's log adds to `history`, event by event: call the returned
 * function after folding each record, with the state then.
 */
export function historyOf(peer: number, history: History): (e: EnvelopedEvent, s: State) => void {
  return (e, s) => {
    for (const p of pathsOf(e)) {
      const v = s.files.get(p)?.version;
      if (v !== undefined) remember(history, v);
    }
    if (e.type === 'LocalFileChanged' || e.type === 'LocalFileMoved') {
      const path = e.type === 'LocalFileChanged' ? e.data.path : e.data.to;
      const v = s.files.get(path)?.version;
      if (v !== undefined && !v.deleted && v.author === (s.meta.self ?? e.peer) && compareHlc(v.hlc, e.hlc) === 0) history.observed.push([peer, v]);
    }
    if (e.type === 'ConflictDetected') {
      const { path, copyPath, winner, loser, rule, from } = e.data;
      history.conflicts.push({ peer, fromRemote: from !== (s.meta.self ?? e.peer), path, copyPath, winner, loser, rule });
      // Not remembered as versions that existed: a settled winner is the peer's plan until it is
      // committed (then the files projection holds it), and a loser is some peer's indexed
      // version or such a plan. Counting plans made an abandoned winner (abandonTarget) read as
      // a delete undone (seeds 1094, 11495).
    }
  };
}

/**
 * Fold one peer's log from empty, adding what it saw to `history`; returns the
 * rebuilt state (for the replay check).
 */
export function foldHistory(peer: number, records: readonly RecordedEvent[], history: History): State {
  const s = initialState();
  const note = historyOf(peer, history);
  for (const e of records) {
    evolve(s, e);
    note(e, s);
  }
  s.dirty.clear();
  return s;
}

/**
 * The projections are structurally equal (sameValue entry by entry): then
 * their canonical serialisations are equal too, and firstDifference, which
 * serialises every entry of both, need only run to name a difference.
 */
export function sameProjections(a: State, b: State): boolean {
  if (!sameValue(a.meta, b.meta)) return false;
  for (const name of projectionNames) {
    const x = a[name] as ReadonlyMap<string, unknown>;
    const y = b[name] as ReadonlyMap<string, unknown>;
    if (x.size !== y.size) return false;
    for (const [k, v] of x) if (!y.has(k) || !sameValue(v, y.get(k))) return false;
  }
  return true;
}

export function replayProblem(peer: SimPeer, rebuilt: State): string | null {
  if (peer.engine === null) return null;
  const d = sameProjections(peer.engine.state, rebuilt) ? null : firstDifference(peer.engine.state, rebuilt);
  return d === null ? null : `p${peer.index}: the fold of its log differs from the state its engine maintained: ${d}`;
}

const entryHolds = (e: DiskEntry | undefined, v: FileVersion, blocksOf: (data: Uint8Array) => readonly string[]): boolean => {
  if (e === undefined || e.type !== v.type) return false;
  if (e.type === 'symlink') return e.target === (v.target ?? '');
  if (e.type === 'directory') return true;
  const h = blocksOf(e.data);
  return h.length === v.blocks.length && h.every((x, i) => x === v.blocks[i]);
};

/**
 * The conflict copy of `loser` was made and then changed or deleted by
 * someone who had it (the version at the copy path now is strictly newer than
 * the copy, whose vector is the loser's): the write was kept, then causally
 * superseded, as when a user removes a folder holding a conflict copy.
 */
function copySuperseded(state: State, copyPath: string, loser: FileVersion): boolean {
  const now = state.files.get(copyPath)?.version;
  return now !== undefined && compare(now.vv, loser.vv) === 'after';
}

/** Invariant 2, on one converged peer. */
export function lostWrites(h: History, p: SimPeer): Finding[] {
  const state = (p.engine as { state: State }).state;
  const out: Finding[] = [];
  for (const [author, v] of h.observed) {
    if (v.type === 'directory') continue;
    const final = state.files.get(v.path)?.version;
    if (final !== undefined && dominates(final.vv, v.vv)) continue;
    const kept = h.conflicts.some(
      (c) => c.path === v.path && dominates(c.loser.vv, v.vv) && (entryHolds(p.disk.get(c.copyPath), c.loser, (d) => p.disk.blockHashes(d)) || copySuperseded(state, c.copyPath, c.loser)),
    );
    if (kept) continue;
    out.push({
      invariant: 'no-lost-write',
      message: `p${author}'s write of ${v.path} (${describeVersion(v)}) is lost on p${p.index}: final is ${final === undefined ? 'nothing' : describeVersion(final)}, and no conflict copy holds it`,
    });
    if (out.length >= 3) break;
  }
  return out;
}

/** Invariant 3, on one converged peer: no live final version is older than something that existed. */
export function resurrections(h: History, p: SimPeer): Finding[] {
  const state = (p.engine as { state: State }).state;
  const out: Finding[] = [];
  for (const [path, f] of state.files) {
    if (f.version.deleted) continue;
    for (const v of h.versions.get(path)?.values() ?? []) {
      if (compare(f.version.vv, v.vv) !== 'before') continue;
      out.push({
        invariant: 'no-resurrection',
        message: `p${p.index} holds ${path} as ${describeVersion(f.version)}, older than ${describeVersion(v)} which existed`,
      });
      break;
    }
    if (out.length >= 3) break;
  }
  return out;
}

/**
 * Two different contents under one version vector: one of them can be
 * silently replaced by the other anywhere (a write lost without a trace).
 */
export function vectorCollisions(h: History): Finding[] {
  const out: Finding[] = [];
  for (const [path, versions] of h.versions) {
    const byVector = new Map<string, FileVersion>();
    for (const v of versions.values()) {
      const key = `${vvKey(v)}|${v.deleted}`;
      const other = byVector.get(key);
      if (other === undefined) byVector.set(key, v);
      // A tombstone has no content: two deletes with one vector that remember a
      // different type or mode of what they deleted lose nothing.
      else if (!v.deleted && (contentOf(other) !== contentOf(v) || other.type !== v.type || other.mode !== v.mode)) {
        out.push({ invariant: 'no-lost-write', message: `${path}: two different versions share vector ${vvKey(v)}: ${describeVersion(other)} and ${describeVersion(v)}` });
        break;
      }
    }
    if (out.length >= 3) break;
  }
  return out;
}

/**
 * DESIGN.md's rule, written independently of the engine's: modify beats a
 * concurrent delete; then (the engine's documented addition, since children
 * cannot live under a file) a directory beats a file or symlink; then the
 * later HLC stamp; then the larger author.
 */
export function expectedWinner(a: FileVersion, b: FileVersion): FileVersion {
  if (a.deleted !== b.deleted) return a.deleted ? b : a;
  const aDir = !a.deleted && a.type === 'directory';
  const bDir = !b.deleted && b.type === 'directory';
  if (aDir !== bDir) return aDir ? a : b;
  const c = compareHlc(a.hlc, b.hlc);
  if (c !== 0) return c > 0 ? a : b;
  if (a.author !== b.author) return a.author > b.author ? a : b;
  return vvKey(a) >= vvKey(b) ? a : b;
}

/**
 * Invariant 4 over every peer's conflicts. Every peer that kept a loser must
 * have kept it under the same name, and every winner must be the one the rule
 * picks: the rule is a pure function of the pair, so that is what makes peers
 * agree. (Winners are recorded merged with the loser's vector, and a loser may
 * lose to different versions on different peers in a three-way conflict, so
 * winners are compared with the rule, not with each other.) Records a peer
 * makes on its own, after the fact, are judged on the copy's name only.
 */
export function conflictFindings(h: History): Finding[] {
  const out: Finding[] = [];
  const byLoser = new Map<string, ConflictSeen>();
  for (const c of h.conflicts) {
    const dir = c.path.includes('/') ? c.path.slice(0, c.path.lastIndexOf('/') + 1) : '';
    const copyOk = c.copyPath.startsWith(dir) && c.copyPath.includes('.ploppy-conflict-') && c.copyPath.includes(`-${shortPeer(c.loser.author)}`);
    if (!copyOk) out.push({ invariant: 'deterministic-conflicts', message: `p${c.peer}: conflict copy ${c.copyPath} of ${c.path} is not named NAME.ploppy-conflict-STAMP-${shortPeer(c.loser.author)}.EXT beside it` });
    const key = `${c.path}|${vvKey(c.loser)}|${c.loser.blocks.join(',')}`;
    const sameLoser = byLoser.get(key);
    if (sameLoser === undefined) byLoser.set(key, c);
    else if (sameLoser.copyPath !== c.copyPath) {
      out.push({ invariant: 'deterministic-conflicts', message: `p${sameLoser.peer} and p${c.peer} kept the same loser of ${c.path} under different names: ${sameLoser.copyPath} and ${c.copyPath}` });
    }
    // Same author and stamp: two derivatives of one edit (merges keep both); only the pre-merge
    // vectors, which the record does not keep, could tell them apart.
    const tie = c.winner.author === c.loser.author && compareHlc(c.winner.hlc, c.loser.hlc) === 0;
    // Only a record made while deciding on another peer's version names the pair's winner: the
    // records a peer makes on its own (following the path as it moves on, or learning of the
    // conflict from its copy) carry whatever version the path holds by then.
    if (c.fromRemote && !tie && expectedWinner(c.winner, c.loser) !== c.winner) {
      out.push({
        invariant: 'deterministic-conflicts',
        message: `p${c.peer} chose ${describeVersion(c.winner)} over ${describeVersion(c.loser)} at ${c.path} (by its rule ${c.rule}); the rule picks the other`,
      });
    }
    if (out.length >= 3) break;
  }
  return out;
}
