/**
 * `ploppy resolve PATH --keep winner|other|both` as decisions.
 *
 * The conflict named by PATH (its path, or its copy path) is dropped from the
 * conflicts projection (ConflictResolved) and the files are put right by new
 * versions authored here, which then sync like any local change:
 * - winner: the copy gets a tombstone;
 * - other: the loser's content goes back to the path with a vector that
 *   dominates everything seen there, and the copy gets a tombstone;
 * - both: the files stay as they are.
 * New versions enter through VersionAccepted with this peer as the source:
 * their blocks are all local (the copy holds them), so the transfer machinery
 * copies instead of fetching, and holds the copy's removal until the blocks
 * have been read from it. The RESOLVED cascade tells the other peers to drop
 * the conflict too.
 */
import type { MessageId } from '../core/ids.js';
import type { SyncPath } from '../core/path.js';
import { emptyVector, merge } from '../core/vv.js';
import type { EventOf } from '../events/types.js';
import type { FileVersion } from '../events/version.js';
import { ownVector, tombstoneOf, type ConflictEntry, type State } from '../projections/state.js';
import type { Decider } from './decider.js';

/** The conflict `path` names: by copy path, else the latest detected at that path. */
export function conflictNamed(s: State, path: SyncPath): ConflictEntry | undefined {
  const byCopy = s.conflicts.get(path);
  if (byCopy !== undefined) return byCopy;
  let latest: ConflictEntry | undefined;
  for (const c of s.conflicts.values()) if (c.path === path && (latest === undefined || c.detectedSeq > latest.detectedSeq)) latest = c;
  return latest;
}

export function decideResolve(d: Decider, e: EventOf<'ResolveRequested'>): void {
  const c = conflictNamed(d.state, e.data.path);
  if (c === undefined) return;
  const keep = e.data.keep;
  d.emit({ type: 'ConflictResolved', data: { path: c.path, copyPath: c.copyPath, keep, by: d.self } });
  if (keep === 'other') restoreLoser(d, c);
  if (keep === 'winner' || keep === 'other') dropCopy(d, c.copyPath);
  if (keep === 'both') adoptCopy(d, c.copyPath);
}

const message = (d: Decider): MessageId => d.input.id as string as MessageId;

/** What is (or is about to be) at `path`: a transfer's target, else the committed version. */
const currentAt = (s: State, path: string): FileVersion | undefined => s.transfers.get(path)?.version ?? s.files.get(path)?.version;

function restoreLoser(d: Decider, c: ConflictEntry): void {
  const base = currentAt(d.state, c.path);
  const vv = ownVector(d.state, c.path, merge(base?.vv ?? emptyVector, c.loser.vv), d.self);
  const version: FileVersion = c.loser.deleted
    ? { ...(base === undefined ? c.loser : tombstoneOf(d.state, base, d.self, d.input.hlc)), path: c.path, vv }
    : { ...c.loser, path: c.path, vv, hlc: d.input.hlc, author: d.self };
  d.emit({ type: 'VersionAccepted', data: { path: c.path, version, from: d.self, message: message(d) } });
}

/**
 * Keeping both makes the copy an ordinary file of ours: a new version with the
 * same content, so peers that meet it later do not take it for an unresolved
 * conflict's copy.
 */
function adoptCopy(d: Decider, copyPath: SyncPath): void {
  const f = d.state.files.get(copyPath)?.version;
  if (f === undefined || f.deleted || d.state.transfers.has(copyPath)) return;
  const version = { ...f, vv: ownVector(d.state, copyPath, f.vv, d.self), hlc: d.input.hlc, author: d.self };
  d.emit({ type: 'VersionsMerged', data: { path: copyPath, version, from: d.self } });
}

function dropCopy(d: Decider, copyPath: SyncPath): void {
  const copy = currentAt(d.state, copyPath);
  if (copy === undefined || copy.deleted) return;
  const version = tombstoneOf(d.state, copy, d.self, d.input.hlc);
  d.emit({ type: 'VersionAccepted', data: { path: copyPath, version, from: d.self, message: message(d) } });
}
