/**
 * The conflicts projection and the merges that follow a conflict.
 *
 * Theory of operation
 * - An entry is keyed by its copy path and records the loser and the winner,
 *   which follows the path: whenever the version at the path changes and it
 *   supersedes the loser, it becomes the entry's winner. In a three-way
 *   conflict a loser may lose to different versions on different peers, and
 *   a peer may learn of a conflict only from its outcome; following the path
 *   is what makes every peer's entry the same once the trees are the same.
 * - Only conflicts that keep a copy are recorded: the copy syncs like any
 *   file, and a peer that commits a pristine copy (named after its own stamp
 *   and author) without having seen the conflict records it from the copy.
 * - After a conflict the version at the path takes the loser's vector too
 *   (VersionsMerged) once the copy is on disk, provided it still beats the
 *   loser by the rule; until then it stays concurrent with the loser, so
 *   peers holding only the loser never overwrite it before it is copied.
 */
import type { SyncPath } from '../core/path.js';
import { compare, dominates } from '../core/vv.js';
import type { MessageId, PeerId } from '../core/ids.js';
import { sameContent, type FileVersion } from '../events/version.js';
import type { ConflictEntry } from '../projections/state.js';
import { mergedWinner, needsCopy, pickWinner, pristineCopy, type Verdict } from './conflicts.js';
import type { Decider } from './decider.js';

const sameVersion = (a: FileVersion, b: FileVersion): boolean =>
  JSON.stringify(a.vv) === JSON.stringify(b.vv) && a.hlc.wallMs === b.hlc.wallMs && a.hlc.counter === b.hlc.counter && a.deleted === b.deleted;

/**
 * Record the conflict whose loser is kept at `copyPath` (once), with the
 * version that is to be at the path (followWinner keeps it current).
 */
export function recordConflict(d: Decider, path: SyncPath, verdict: Verdict, copyPath: SyncPath, from: PeerId, winner: FileVersion): void {
  const { loser } = verdict;
  if (!replaces(d.state.conflicts.get(copyPath), path, loser)) return;
  d.emit({ type: 'ConflictDetected', data: { path, winner, loser: verdict.loser, copyPath, rule: verdict.rule, from } });
}

/**
 * Copy names have a resolution of one second: two losers of one author in
 * one second share a name. The later of them (by its author's own counter)
 * is the one the copy path ends up holding, so it is the one recorded.
 */
function replaces(existing: ConflictEntry | undefined, path: SyncPath, loser: FileVersion): boolean {
  return existing === undefined || (existing.path === path && compare(loser.vv, existing.loser.vv) === 'after');
}

/** The version at `path` changed: open conflicts there take it as their winner once it supersedes the loser. */
export function followWinner(d: Decider, path: SyncPath): void {
  const f = d.state.files.get(path)?.version;
  if (f === undefined || f.deleted) return;
  for (const c of [...d.state.conflicts.values()]) {
    if (c.path !== path || sameVersion(c.winner, f) || compare(f.vv, c.loser.vv) !== 'after') continue;
    d.emit({ type: 'ConflictDetected', data: { path, winner: f, loser: c.loser, copyPath: c.copyPath, rule: pickWinner(f, c.loser).rule, from: d.self } });
  }
}

/**
 * Merge `loser`'s vector into the version committed at `path` when that
 * version does not include the loser yet and beats it by the rule (the
 * winner, a later edit of ours that would win too, or a directory that kept
 * entries a file or delete never saw).
 */
export function mergeNow(d: Decider, path: SyncPath, loser: FileVersion): void {
  // While a transfer is under way the merge waits for its commit (FileCommitted calls mergeAfterCopy).
  if (d.state.transfers.has(path)) return;
  const f = d.state.files.get(path)?.version;
  if (f === undefined || f.deleted || dominates(f.vv, loser.vv)) return;
  if (pickWinner(f, loser).winner !== f) return;
  // A directory that outlived a newer file or delete needs a vector above the loser's, not equal to it.
  const settled = mergedWinner(f, loser, path, d.self);
  const version = compare(f.vv, loser.vv) === 'before' ? { ...settled, hlc: d.input.hlc, author: d.self } : settled;
  d.emit({ type: 'VersionsMerged', data: { path, version, from: d.self } });
}

/** After a commit at `path` (a conflict's path or its copy path): merge where the copy is now safe. */
export function mergeAfterCopy(d: Decider, path: SyncPath): void {
  for (const c of d.state.conflicts.values()) {
    if (c.path !== path && c.copyPath !== path) continue;
    const copyDone = !needsCopy(c.loser) || (d.state.files.has(c.copyPath) && !d.state.transfers.has(c.copyPath));
    if (copyDone) mergeNow(d, c.path, c.loser);
  }
}

/**
 * A version was committed at `path`: if it is a pristine copy of a conflict
 * we never saw, record the conflict (its winner, for now, is what is or will
 * be at the path; followWinner completes it); then merge and follow.
 */
export function conflictsAfterCommit(d: Decider, path: SyncPath, version: FileVersion): void {
  recordFromCopy(d, path, version);
  mergeAfterCopy(d, path);
  followWinner(d, path);
}

function recordFromCopy(d: Decider, path: SyncPath, version: FileVersion): void {
  const found = pristineCopy(version);
  if (found === null || !replaces(d.state.conflicts.get(path), found.path, found.loser)) return;
  const live = d.state.transfers.get(found.path)?.version ?? d.state.files.get(found.path)?.version;
  // A file merely named like a copy (say, a copy renamed by its own author within the second)
  // can share its vector with the version at the path; a real loser never does.
  if (live !== undefined && compare(live.vv, found.loser.vv) === 'equal' && !sameContent(live, found.loser)) return;
  // Nothing live at the path yet: the loser stands in as the winner until a version that
  // supersedes it arrives there (followWinner).
  const current = live === undefined || live.deleted ? found.loser : live;
  const verdict = pickWinner(current, found.loser);
  d.emit({ type: 'ConflictDetected', data: { path: found.path, winner: current, loser: found.loser, copyPath: path, rule: verdict.rule, from: d.self } });
  followWinner(d, found.path);
}

/**
 * A conflict's copy could not be fetched (no peer has its blocks any more).
 * If the loser's own author has since written a newer version at the path,
 * the loser's content is superseded by its author and keeping it is moot:
 * stop fetching and drop the conflict. (Should a peer that did make the copy
 * announce it, committing it records the conflict again.)
 */
export function abandonCopy(d: Decider, copyPath: SyncPath): void {
  const c = d.state.conflicts.get(copyPath);
  const t = d.state.transfers.get(copyPath);
  if (c === undefined || t === undefined) return;
  const now = d.state.transfers.get(c.path)?.version ?? d.state.files.get(c.path)?.version;
  const authored = c.loser.vv[c.loser.author];
  if (now === undefined || authored === undefined || (now.vv[c.loser.author] ?? 0) <= authored) return;
  d.emit({ type: 'VersionSuperseded', data: { path: copyPath, version: t.version, from: d.self, message: d.input.id as string as MessageId, reason: 'lost' } });
  d.emit({ type: 'ConflictResolved', data: { path: c.path, copyPath, keep: 'winner', by: d.self } });
}
