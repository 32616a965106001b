/**
 * The pure rules of a conflict: who wins, what the loser's copy is called, and
 * how to recognise a copy. They live below the engine because the conflicts
 * projection is derived from them (state.ts): an entry per conflict copy on
 * disk, which every peer computes the same way from the same files.
 *
 * Everything here is a pure function of the versions, never of the peer
 * deciding or of arrival order (DESIGN.md invariant 4):
 * - modify beats a concurrent delete (no data loss);
 * - a directory beats a concurrent file or symlink (its children could not
 *   live under a file; the file is kept as the copy);
 * - else the later HLC stamp wins, then the larger author peer id;
 * - the loser is kept as `NAME.ploppy-conflict-YYYYMMDD-HHMMSS-PEER8.EXT`
 *   (UTC wall time of the loser's stamp, first 8 characters of its author),
 *   whose version is the loser's own (content, vector, stamp, author) at the
 *   copy path, so two peers that both make the copy make the same version.
 */
import { pathSegmentBytesMax } from '../core/constants.js';
import { compareHlc } from '../core/hlc.js';
import { shortPeer } from '../core/ids.js';
import { isSyncPath, type SyncPath } from '../core/path.js';
import { compare } from '../core/vv.js';
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
 * is its children. Only conflicts with a copy appear in the conflicts
 * projection: the copy is what every peer can see (and what `resolve` acts
 * on); a lost delete or a directory's mode has nothing to keep.
 */
export const needsCopy = (loser: FileVersion): boolean => !loser.deleted && loser.type !== 'directory';

const two = (n: number): string => String(n).padStart(2, '0');
const dateMaxMs = 8.64e15;

/** YYYYMMDD-HHMMSS in UTC; stamps outside what a Date can hold are clamped. */
export function conflictStamp(wallMs: number): string {
  const d = new Date(Math.min(Math.max(0, wallMs), dateMaxMs));
  return `${d.getUTCFullYear()}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}-${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}`;
}

/** UTF-8 length without encoding (lone surrogates count 3, as TextEncoder writes U+FFFD for them). */
function utf8Bytes(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Drop whole code points from the end until `s` fits in `maxBytes`. */
function clip(s: string, maxBytes: number): string {
  if (utf8Bytes(s) <= maxBytes) return s;
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

const copyInfix = '.ploppy-conflict-';
const copyName = /^(.*)\.ploppy-conflict-(\d{8}-\d{6})-([0-9a-f]{8})(\.[^/]*)?$/;

/**
 * If `copy` is a conflict copy exactly as conflictCopyPath/copyVersionOf make
 * it (its name matches its own stamp and author, and it is a live file or
 * symlink), the conflict's path and loser; else null. A copy someone edited,
 * renamed, or kept with `resolve --keep both` carries a new stamp and is no
 * longer recognised, which is the point.
 */
export function pristineCopy(copy: FileVersion): { path: SyncPath; loser: FileVersion } | null {
  if (!needsCopy(copy) || !copy.path.includes(copyInfix)) return null;
  const slash = copy.path.lastIndexOf('/');
  const m = copyName.exec(copy.path.slice(slash + 1));
  if (m === null) return null;
  const path = `${copy.path.slice(0, slash + 1)}${m[1] ?? ''}${m[4] ?? ''}`;
  if (!isSyncPath(path)) return null;
  const loser = { ...copy, path };
  return conflictCopyPath(path, loser) === copy.path ? { path, loser } : null;
}
