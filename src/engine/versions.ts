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
 *   (conflict-records.ts): announcing a dominating winner before the loser's
 *   copy exists could let peers overwrite the only remaining copy of it.
 * - A local change under a transfer is the same question asked the other way
 *   round (`reconcileLocal`).
 * - Trees: a file or delete that meets a directory still holding entries it
 *   never saw loses to it (`reconcileNotEmpty`), and so does a file on our
 *   disk that an incoming entry cannot be placed below (`reconcileUnderFile`).
 */
import type { MessageId, PeerId } from '../core/ids.js';
import { compareHlc } from '../core/hlc.js';
import { compare } from '../core/vv.js';
import type { SyncPath } from '../core/path.js';
import { sameContent, type FileVersion } from '../events/version.js';
import { consistentBlocks } from './block-index.js';
import { conflictCopyPath, copyVersionOf, mergedWinner, needsCopy, pickWinner, unionOf } from './conflicts.js';
import { mergeAfterCopy, mergeNow, recordConflict } from './conflict-records.js';
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
      // (A file or delete replacing a directory that still shelters entries its author never saw
      // is settled when removing the directory fails: reconcileNotEmpty. Judging it here would
      // take entries whose own deletes are merely still on their way for unseen ones.)
      if (copyComing(d, r)) {
        // That settling already kept `r` aside: the directory's vector takes r's only once the
        // copy is on disk (mergeAfterCopy), so until then `r` still looks newer. Taking it again
        // would fetch it and fail on the directory once more, for every re-announcement.
        d.emit({ type: 'VersionSuperseded', data: { path: r.path, version: r, from, message, reason: 'lost' } });
        return;
      }
      return accept(d, r, from, message);
    case 'concurrent':
      return concurrent(d, r, [from], current, transfer?.sources ?? null, message, depth);
  }
}

/** `r` already lost at its path: its conflict copy (the very version, at the copy path) is being fetched. */
function copyComing(d: Decider, r: FileVersion): boolean {
  const copyPath = needsCopy(r) ? conflictCopyPath(r.path, r) : null;
  const coming = copyPath === null ? undefined : d.state.transfers.get(copyPath)?.version;
  return coming !== undefined && !coming.deleted && compare(coming.vv, r.vv) === 'equal' && compareHlc(coming.hlc, r.hlc) === 0;
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
  currentSources: readonly PeerId[] | null, message: MessageId, depth: number, shelter = false,
): void {
  const path = remote.path;
  const from = remoteSources[0] ?? d.self;
  const verdict = pickWinner(remote, current);
  const { winner, loser } = verdict;
  if (sameContent(remote, current)) {
    const merged = unionOf(winner, loser, path);
    if (currentSources === null) d.emit({ type: 'VersionsMerged', data: { path, version: merged, from } });
    else accept(d, merged, from, message);
    return;
  }
  // (A sheltering directory is concurrent with its replacement whatever the vectors say: the
  // entries below it are what the replacement never saw.)
  const remoteSawCurrent = sawContentOf(remote, current);
  if (!shelter && remoteSawCurrent !== sawContentOf(current, remote)) {
    return settleWithoutCopy(d, remote, remoteSources, current, currentSources, remoteSawCurrent ? remote : current, message);
  }
  const copyPath = needsCopy(loser) ? conflictCopyPath(path, loser) : null;
  const settled = mergedWinner(d.state, winner, loser, path, d.self);
  if (winner === current && currentSources === null && d.state.transfers.get(path)?.version === remote) {
    // Ours on disk beat the version we were fetching: stop fetching it.
    d.emit({ type: 'VersionSuperseded', data: { path, version: remote, from, message, reason: 'lost' } });
  }
  if (copyPath !== null) {
    recordConflict(d, path, verdict, copyPath, from, winner === remote ? settled : winner);
    // The copy comes from whoever has the loser: the announcer, a transfer's sources, or our own disk.
    const copySources = loser === remote ? remoteSources : (currentSources ?? [d.self]);
    for (const source of copySources) reconcile(d, copyVersionOf(loser, copyPath), source, message, depth + 1);
  }
  if (winner === remote) {
    for (const source of remoteSources.length > 0 ? remoteSources : [from]) accept(d, settled, source, message);
  } else if (copyPath !== null) mergeAfterCopy(d, path);
  else if (currentSources === null) mergeNow(d, path, loser);
  else {
    // Nothing to keep and our target still in flight: fetch it with the loser's vector merged in.
    for (const source of currentSources.length > 0 ? currentSources : [from]) accept(d, settled, source, message);
  }
}

/**
 * True when `a` has seen the edit that made `b`'s content: the vectors can
 * still be concurrent (one carries merge knowledge the other lacks, as after
 * a three-way conflict), but `b`'s content is in `a`'s past, so keeping `a`
 * loses nothing and needs no copy. A version's content is identified by its
 * author's own counter in its vector (merges keep the content's author).
 */
function sawContentOf(a: FileVersion, b: FileVersion): boolean {
  const n = b.vv[b.author];
  return n !== undefined && (a.vv[b.author] ?? 0) >= n;
}

/** Concurrent vectors, but `winner` already saw the other's content: merge, no conflict. */
function settleWithoutCopy(
  d: Decider, remote: FileVersion, remoteSources: readonly PeerId[], current: FileVersion,
  currentSources: readonly PeerId[] | null, winner: FileVersion, message: MessageId,
): void {
  const path = remote.path;
  const from = remoteSources[0] ?? d.self;
  const settled = mergedWinner(d.state, winner, winner === remote ? current : remote, path, d.self);
  const sources = winner === remote ? remoteSources : (currentSources ?? []);
  if (winner === remote || currentSources !== null) {
    for (const source of sources.length > 0 ? sources : [from]) accept(d, settled, source, message);
    return;
  }
  if (d.state.transfers.get(path)?.version === remote) d.emit({ type: 'VersionSuperseded', data: { path, version: remote, from, message, reason: 'lost' } });
  d.emit({ type: 'VersionsMerged', data: { path, version: settled, from } });
}

/** What is, or is about to be, at `path`. */
const effectiveAt = (d: Decider, path: string): FileVersion | undefined => d.state.transfers.get(path)?.version ?? d.state.files.get(path)?.version;

/** True when something live is, or is about to be, below directory `path`. */
export function sheltersEntries(d: Decider, path: SyncPath): boolean {
  const prefix = `${path}/`;
  for (const map of [d.state.files, d.state.transfers]) {
    for (const p of map.keys()) if (p.startsWith(prefix) && effectiveAt(d, p)?.deleted === false) return true;
  }
  return false;
}

/** `r` (a file or symlink, or a delete) would replace a live directory that still holds live entries. */
function replacesShelter(d: Decider, r: FileVersion, current: FileVersion): boolean {
  const replacesDirectory = r.deleted || r.type !== 'directory';
  return replacesDirectory && !current.deleted && current.type === 'directory' && sheltersEntries(d, r.path);
}

/**
 * Replacing or removing the directory at `path` failed because it is not
 * empty: if live entries remain that the new version never saw, the
 * directory wins over it (see `reconcile`).
 */
export function reconcileNotEmpty(d: Decider, path: SyncPath, message: MessageId): void {
  const t = d.state.transfers.get(path);
  const local = d.state.files.get(path)?.version;
  if (t === undefined || local === undefined || !replacesShelter(d, t.version, local)) return;
  concurrent(d, t.version, t.sources, local, null, message, 0, true);
}

/**
 * The mode of a directory brought back by `reconcileUnderFile`: owner rwx, so
 * the entries it comes back for can be written. (The directory's own version
 * was replaced by the file and is no longer in the state; every peer that
 * brings one back makes the same content, so their versions merge silently.)
 */
const restoredDirectoryModeBits = 7;

/**
 * A live version at `path` could not be placed (TransferFailed, any reason):
 * if our disk holds a file or symlink above it, it never will be. That file
 * replaced the directory without having seen this entry (our user's file
 * over a folder whose incoming entries they never saw, or one we committed
 * before the entry arrived), so, as on every peer whose directory still holds
 * such an entry (reconcileNotEmpty), `directory-beats-file`: the directory
 * comes back with a vector above the file's, and the file is kept as its
 * conflict copy. Without this the entry, and a commit waiting for it (a
 * conflict's winner waits for its loser's copy), would wait for ever.
 */
export function reconcileUnderFile(d: Decider, path: SyncPath, message: MessageId): void {
  const target = d.state.transfers.get(path)?.version;
  if (target === undefined || target.deleted) return;
  const file = fileAbove(d, path);
  // (A file whose copy name would not fit stays: better an entry that waits than a write lost.)
  if (file === null || conflictCopyPath(file.path, file) === null) return;
  const directory: FileVersion = {
    path: file.path, type: 'directory', mode: restoredDirectoryModeBits, size: 0, mtimeMs: file.mtimeMs,
    blockSizeBytes: file.blockSizeBytes, blocks: [], deleted: false, vv: file.vv, hlc: d.input.hlc, author: d.self,
  };
  concurrent(d, directory, [d.self], file, null, message, 0, true);
}

/**
 * The file or symlink our disk holds at the shallowest ancestor of `path`, or
 * null. Null too while a transfer is under way at that ancestor: what it
 * brings (a directory, a delete, another file) is judged when it lands.
 */
function fileAbove(d: Decider, path: SyncPath): FileVersion | null {
  for (let i = path.indexOf('/'); i > 0; i = path.indexOf('/', i + 1)) {
    const above = path.slice(0, i);
    const v = d.state.files.get(above)?.version;
    if (v === undefined || v.deleted || v.type === 'directory') continue;
    return d.state.transfers.has(above) ? null : v;
  }
  return null;
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
