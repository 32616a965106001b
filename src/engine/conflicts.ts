/**
 * Conflicts: who wins, what the loser's copy is called, and what it is.
 *
 * Everything here is a pure function of the two versions, never of the peer
 * deciding or of arrival order, so every peer that meets the same pair picks
 * the same winner and creates the same copy (DESIGN.md invariant 4):
 * - modify beats a concurrent delete (no data loss);
 * - a directory beats a concurrent file or symlink (its children could not
 *   live under a file; the file is kept as the copy);
 * - else the later HLC stamp wins, then the larger author peer id;
 * - the loser is kept as `NAME.ploppy-conflict-YYYYMMDD-HHMMSS-PEER8.EXT`
 *   (UTC wall time of the loser's stamp, first 8 characters of its author),
 *   whose version is derived from the loser alone (its content, vector, stamp
 *   and author), so two peers that both make the copy make the identical
 *   version and it merges silently;
 * - the winner's vector is merged with the loser's (plus an increment of the
 *   peer that settles it), so the merged winner dominates both and the
 *   conflict is not detected again.
 */
import { compareHlc } from '../core/hlc.js';
import { shortPeer, type PeerId } from '../core/ids.js';
import { isSyncPath, type SyncPath } from '../core/path.js';
import { pathSegmentBytesMax } from '../core/constants.js';
import { compare, increment, merge } from '../core/vv.js';
import type { ConflictRule } from '../events/types.js';
import type { FileVersion } from '../events/version.js';

export interface Verdict {
  readonly winner: FileVersion;
  readonly loser: FileVersion;
  readonly rule: ConflictRule;
}

/** The deterministic winner of two concurrent versions (symmetric in its arguments). */
export function pickWinner(a: FileVersion, b: FileVersion): Verdict {
  if (a.deleted !== b.deleted) {
    return a.deleted ? { winner: b, loser: a, rule: 'modify-beats-delete' } : { winner: a, loser: b, rule: 'modify-beats-delete' };
  }
  const aDir = !a.deleted && a.type === 'directory';
  const bDir = !b.deleted && b.type === 'directory';
  if (aDir !== bDir) {
    return aDir ? { winner: a, loser: b, rule: 'directory-beats-file' } : { winner: b, loser: a, rule: 'directory-beats-file' };
  }
  const byClock = compareHlc(a.hlc, b.hlc);
  if (byClock !== 0) return byClock > 0 ? { winner: a, loser: b, rule: 'later-hlc' } : { winner: b, loser: a, rule: 'later-hlc' };
  if (a.author !== b.author) {
    return a.author > b.author ? { winner: a, loser: b, rule: 'larger-peer-id' } : { winner: b, loser: a, rule: 'larger-peer-id' };
  }
  // One author and one stamp: one edit's content under two vectors (merges of it). The vector that
  // has seen more wins; otherwise the vectors' text decides, so the choice stays symmetric.
  const order = compare(a.vv, b.vv);
  if (order === 'after' || (order !== 'before' && JSON.stringify(a.vv) >= JSON.stringify(b.vv))) return { winner: a, loser: b, rule: 'larger-peer-id' };
  return { winner: b, loser: a, rule: 'larger-peer-id' };
}

/**
 * A loser worth a copy: a deleted file has no content, a directory's content
 * is its children. Only conflicts with a copy are recorded in the conflicts
 * projection: the copy is what lets every peer learn of the conflict (and
 * what `resolve` acts on); a lost delete or a directory's mode has nothing to
 * keep.
 */
export const needsCopy = (loser: FileVersion): boolean => !loser.deleted && loser.type !== 'directory';

/**
 * Two versions with the same content, concurrent: one version whose vector is
 * the union (whoever computes it gets the same version, content included).
 */
export const unionOf = (winner: FileVersion, loser: FileVersion, path: SyncPath): FileVersion => ({
  ...winner,
  path,
  vv: merge(winner.vv, loser.vv),
});

/**
 * The winner of a conflict as `self` keeps it: the union of both vectors plus
 * one of our own. The increment is what keeps vectors unique: a bare union
 * could be reached by two peers along different histories with different
 * winners (a three-way conflict), and two different contents under one
 * vector would never be reconciled. Peers that settle the same conflict
 * each make their own version, with identical content, which then merge
 * silently (unionOf).
 */
export const mergedWinner = (winner: FileVersion, loser: FileVersion, path: SyncPath, self: PeerId): FileVersion => ({
  ...winner,
  path,
  vv: increment(merge(winner.vv, loser.vv), self),
});

const two = (n: number): string => String(n).padStart(2, '0');
const dateMaxMs = 8.64e15;

/** YYYYMMDD-HHMMSS in UTC; stamps outside what a Date can hold are clamped. */
export function conflictStamp(wallMs: number): string {
  const d = new Date(Math.min(Math.max(0, wallMs), dateMaxMs));
  return `${d.getUTCFullYear()}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}-${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}`;
}

const utf8Bytes = (s: string): number => new TextEncoder().encode(s).byteLength;

/** Drop whole code points from the end until `s` fits in `maxBytes`. */
function clip(s: string, maxBytes: number): string {
  const points = [...s];
  while (points.length > 0 && utf8Bytes(points.join('')) > maxBytes) points.pop();
  return points.join('');
}

/**
 * The sibling a conflict loser is kept as, or null when no valid name fits
 * (a path already at the length limit). The name is shortened, never the
 * infix, so the copy is still recognisable.
 */
export function conflictCopyPath(path: SyncPath, loser: FileVersion): SyncPath | null {
  const slash = path.lastIndexOf('/');
  const dir = path.slice(0, slash + 1);
  const base = path.slice(slash + 1);
  const dot = base.lastIndexOf('.');
  const name = dot > 0 ? base.slice(0, dot) : base;
  const ext = dot > 0 ? clip(base.slice(dot), 32) : '';
  const infix = `.ploppy-conflict-${conflictStamp(loser.hlc.wallMs)}-${shortPeer(loser.author)}`;
  const room = pathSegmentBytesMax - utf8Bytes(infix) - utf8Bytes(ext);
  const candidate = `${dir}${clip(name, room)}${infix}${ext}`;
  return isSyncPath(candidate) ? candidate : null;
}

/** The copy's version: the loser's content, vector, stamp and author, at the copy path. */
export const copyVersionOf = (loser: FileVersion, copyPath: SyncPath): FileVersion => ({ ...loser, path: copyPath });

const copyName = /^(.*)\.ploppy-conflict-(\d{8}-\d{6})-([0-9a-f]{8})(\.[^/]*)?$/;

/**
 * If `copy` is a conflict copy exactly as conflictCopyPath/copyVersionOf make
 * it (its name matches its own stamp and author), the conflict's path and
 * loser; else null. A copy someone edited, or `resolve --keep both` touched,
 * is no longer recognised, which is the point.
 */
export function pristineCopy(copy: FileVersion): { path: SyncPath; loser: FileVersion } | null {
  if (copy.deleted) return null;
  const slash = copy.path.lastIndexOf('/');
  const m = copyName.exec(copy.path.slice(slash + 1));
  if (m === null) return null;
  const path = `${copy.path.slice(0, slash + 1)}${m[1] ?? ''}${m[4] ?? ''}`;
  if (!isSyncPath(path)) return null;
  const loser = { ...copy, path };
  return conflictCopyPath(path, loser) === copy.path ? { path, loser } : null;
}
