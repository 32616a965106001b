/**
 * Deciding what to do with a version: the one place remote versions meet
 * local ones (DESIGN.md, "Files, versions and conflicts").
 *
 * Theory of operation
 * - The "current" version at a path is the one being fetched there if a
 *   transfer is under way (a transfer always dominates what is on disk), else
 *   the committed one. A remote version is compared with it by vector:
 *   older or equal -> VersionSuperseded (older) or nothing (equal, except that
 *   an equal version from a new peer adds that peer as a source); newer ->
 *   VersionAccepted, which starts (or replaces) the transfer.
 * - Concurrent and identical in content -> merged silently: the vectors merge
 *   (VersionsMerged when the current is on disk, a re-accepted transfer when
 *   it is still being fetched).
 * - Concurrent and different -> ConflictDetected (once per copy path). The
 *   loser is kept as a copy, itself reconciled like any remote version, so a
 *   copy that is already there, or already coming, is not made twice. When
 *   the remote side wins, the merged winner is accepted at the path; the
 *   transfer machinery holds its commit until the copy is safe. When the
 *   current side wins, its vector is merged only once the copy exists
 *   (`mergeAfterCopy`): announcing a dominating winner before the loser's
 *   copy exists could let peers overwrite the only remaining copy of it.
 * - A local change under a transfer is the same question asked the other way
 *   round (`reconcileLocal`).
 */
import type { MessageId, PeerId } from '../core/ids.js';
import { compare, dominates, merge } from '../core/vv.js';
import type { SyncPath } from '../core/path.js';
import { sameContent, type FileVersion } from '../events/version.js';
import { consistentBlocks } from './block-index.js';
import { conflictCopyPath, copyVersionOf, mergedWinner, needsCopy, pickWinner, pristineCopy } from './conflicts.js';
import type { Decider } from './decider.js';

/** Why a peer's version cannot be used, or null. Sizes and counts are never trusted. */
export function versionProblem(v: FileVersion): string | null {
  if (Object.keys(v.vv).length === 0) return 'empty version vector';
  if (!consistentBlocks(v)) return 'block list does not match size and block size';
  if (v.type === 'symlink' && !v.deleted && v.target === undefined) return 'symlink without a target';
  return null;
}

/** How deep a conflict copy may itself conflict before we stop (a copy of a copy of a copy). */
const copyDepthMax = 2;

/** Decide on version `r` announced by `from` in message `message`. */
export function reconcile(d: Decider, r: FileVersion, from: PeerId, message: MessageId, depth = 0): void {
  if (versionProblem(r) !== null || depth > copyDepthMax) return;
  const transfer = d.state.transfers.get(r.path);
  const current = transfer?.version ?? d.state.files.get(r.path)?.version;
  if (current === undefined) return accept(d, r, from, message);
  switch (compare(r.vv, current.vv)) {
    case 'equal':
      if (transfer !== undefined && from !== d.self && !transfer.sources.includes(from)) accept(d, r, from, message);
      return;
    case 'before':
      d.emit({ type: 'VersionSuperseded', data: { path: r.path, version: r, from, message, reason: 'older' } });
      return;
    case 'after':
      return accept(d, r, from, message);
    case 'concurrent':
      return concurrent(d, r, [from], current, transfer?.sources ?? null, message, depth);
  }
}

function accept(d: Decider, version: FileVersion, from: PeerId, message: MessageId): void {
  d.emit({ type: 'VersionAccepted', data: { path: version.path, version, from, message } });
}

/**
 * `remote` (announced by `remoteSources`) and `current` are concurrent.
 * `currentSources` is null when `current` is the committed version, else the
 * peers its transfer fetches from.
 */
function concurrent(
  d: Decider, remote: FileVersion, remoteSources: readonly PeerId[], current: FileVersion,
  currentSources: readonly PeerId[] | null, message: MessageId, depth: number,
): void {
  const path = remote.path;
  const from = remoteSources[0] ?? d.self;
  const { winner, loser, rule } = pickWinner(remote, current);
  if (sameContent(remote, current)) {
    const merged = mergedWinner(winner, loser, path);
    if (currentSources === null) d.emit({ type: 'VersionsMerged', data: { path, version: merged, from } });
    else accept(d, merged, from, message);
    return;
  }
  const copyPath = conflictCopyPath(path, loser);
  const bothDirectories = winner.type === 'directory' && loser.type === 'directory' && !winner.deleted && !loser.deleted;
  if (copyPath !== null && !bothDirectories && !d.state.conflicts.has(copyPath)) {
    d.emit({ type: 'ConflictDetected', data: { path, winner, loser, copyPath, rule, from } });
  }
  if (copyPath !== null && needsCopy(loser)) {
    // The copy comes from whoever has the loser: the announcer, a transfer's sources, or our own disk.
    const copySources = loser === remote ? remoteSources : (currentSources ?? [d.self]);
    for (const source of copySources) reconcile(d, copyVersionOf(loser, copyPath), source, message, depth + 1);
  }
  if (winner === remote) {
    for (const source of remoteSources.length > 0 ? remoteSources : [from]) accept(d, mergedWinner(winner, loser, path), source, message);
  }
  else if (copyPath === null || !needsCopy(loser)) mergeNow(d, path, winner, loser);
  else mergeAfterCopy(d, path);
}

/**
 * Merge `loser`'s vector into the version committed at `path` (no copy is
 * needed, or it exists), provided that version is the winner or a later edit
 * of it, and still concurrent with the loser.
 */
function mergeNow(d: Decider, path: SyncPath, winner: FileVersion, loser: FileVersion): void {
  // While a transfer is under way the merge waits for its commit (FileCommitted calls mergeAfterCopy).
  if (d.state.transfers.has(path)) return;
  const f = d.state.files.get(path)?.version;
  if (f === undefined || f.deleted || !dominates(f.vv, winner.vv) || compare(f.vv, loser.vv) !== 'concurrent') return;
  d.emit({ type: 'VersionsMerged', data: { path, version: { ...f, vv: merge(f.vv, loser.vv) }, from: d.self } });
}

/**
 * After something was committed at `path` (a conflict's path or its copy
 * path): once a conflict's copy is on disk (or none is needed), the version
 * committed at the conflict's path takes the loser's vector too.
 */
export function mergeAfterCopy(d: Decider, path: SyncPath): void {
  for (const c of d.state.conflicts.values()) {
    if (c.path !== path && c.copyPath !== path) continue;
    const copyDone = !needsCopy(c.loser) || (d.state.files.has(c.copyPath) && !d.state.transfers.has(c.copyPath));
    if (copyDone) mergeNow(d, c.path, c.winner, c.loser);
  }
}

/**
 * A pristine conflict copy was committed here but we never saw the conflict
 * itself (we only met the merged outcome): record it, so every peer's
 * conflicts converge to the same set of copies.
 */
export function conflictFromCopy(d: Decider, copy: FileVersion): void {
  if (d.state.conflicts.has(copy.path)) return;
  const found = pristineCopy(copy);
  if (found === null) return;
  const current = d.state.transfers.get(found.path)?.version ?? d.state.files.get(found.path)?.version;
  if (current === undefined || current.deleted) return;
  const { winner, rule } = pickWinner(current, found.loser);
  d.emit({ type: 'ConflictDetected', data: { path: found.path, winner, loser: found.loser, copyPath: copy.path, rule, from: d.self } });
}

/**
 * A local change at `path` while a transfer was under way there: if the
 * change is concurrent with what we were fetching, it is a conflict between
 * our version (on disk) and theirs.
 */
export function reconcileLocal(d: Decider, path: SyncPath, message: MessageId): void {
  const t = d.state.transfers.get(path);
  const local = d.state.files.get(path)?.version;
  if (t === undefined || local === undefined) return;
  if (compare(t.version.vv, local.vv) !== 'concurrent') return;
  concurrent(d, t.version, t.sources, local, null, message, 0);
}
