/**
 * Recording conflicts, and the merges that follow them.
 *
 * Theory of operation
 * - The conflicts projection is derived from the files on disk (an entry per
 *   pristine copy; projections/state.ts), so nothing here maintains it. What
 *   the engine records is the decision: ConflictDetected, with the pair and
 *   the rule, when it meets a conflict whose copy it does not have yet.
 * - After a conflict the version at the path takes the loser's vector too
 *   (VersionsMerged) once the copy is on disk, provided it still beats the
 *   loser by the rule; until then it stays concurrent with the loser, so
 *   peers holding only the loser never overwrite it before it is copied.
 */
import type { SyncPath } from '../core/path.js';
import { compare, dominates } from '../core/vv.js';
import type { MessageId, PeerId } from '../core/ids.js';
import type { FileVersion } from '../events/version.js';
import { mergedWinner, pickWinner, pristineCopy, type Verdict } from './conflicts.js';
import type { Decider } from './decider.js';

const sameVector = (a: FileVersion, b: FileVersion): boolean => compare(a.vv, b.vv) === 'equal';

/**
 * Record the decision to keep `verdict.loser` at `copyPath`, unless that copy
 * is already here or on its way (the decision was taken before).
 */
export function recordConflict(d: Decider, path: SyncPath, verdict: Verdict, copyPath: SyncPath, from: PeerId, winner: FileVersion): void {
  const { loser } = verdict;
  for (const at of [d.state.transfers.get(copyPath)?.version, d.state.files.get(copyPath)?.version]) {
    if (at !== undefined && !at.deleted && sameVector(at, loser)) return;
  }
  d.emit({ type: 'ConflictDetected', data: { path, winner, loser, copyPath, rule: verdict.rule, from } });
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
  const settled = mergedWinner(d.state, f, loser, path, d.self);
  const version = compare(f.vv, loser.vv) === 'before' ? { ...settled, hlc: d.input.hlc, author: d.self } : settled;
  d.emit({ type: 'VersionsMerged', data: { path, version, from: d.self } });
}

/**
 * After a commit at `path` (a conflict's path or its copy path): merge where
 * the copy is now safe on disk (the projection lists exactly those) and not
 * about to be replaced.
 */
export function mergeAfterCopy(d: Decider, path: SyncPath): void {
  for (const c of [...d.state.conflicts.values()]) {
    if (c.path !== path && c.copyPath !== path) continue;
    if (!d.state.transfers.has(c.copyPath)) mergeNow(d, c.path, c.loser);
  }
}

/**
 * A target of ours could not be fetched: every peer that announced it said it
 * no longer has the blocks, or never answered. "Ours" is a conflict copy, or
 * a version that carries a counter of ours the disk does not have yet (we
 * settled a conflict in its favour, or `resolve` made it). Its holders moved
 * on, but a target like this is never superseded by what they announce next
 * (no one else has seen our counter, and a copy path has no successor), so
 * waiting would hold the path forever. Stop fetching it (the engine then asks
 * its neighbours to list everything again, so what they hold there comes
 * back: a version we set aside as older than this target, say).
 */
export function abandonTarget(d: Decider, path: SyncPath): void {
  const t = d.state.transfers.get(path);
  if (t === undefined) return;
  const settledHere = (t.version.vv[d.self] ?? 0) > (d.state.files.get(path)?.version.vv[d.self] ?? 0);
  if (!settledHere && pristineCopy(t.version) === null) return;
  d.emit({ type: 'VersionSuperseded', data: { path, version: t.version, from: d.self, message: d.input.id as string as MessageId, reason: 'lost' } });
}
