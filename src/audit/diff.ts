/**
 * `ploppy diff --from A --to B`: what happened to the files between two points
 * of the log. A point is a prefix of the log, so the two states are folds of
 * prefixes; the diff compares their files projections (what was on this
 * peer's disk) and their conflicts.
 *
 * - added: nothing live at the path at A, something live at B;
 * - deleted: something live at A, nothing (or a tombstone) at B;
 * - changed: live at both, and a different version (a new vector; the
 *   content hash says whether the bytes changed too, or only the vector, as
 *   after a merge).
 */
import type { ConflictEntry, FileEntry, State } from '../projections/state.js';
import { versionId, versionInfo, type VersionInfo } from './versions.js';

export interface DiffEntry {
  readonly path: string;
  readonly before: VersionInfo | null;
  readonly after: VersionInfo | null;
  /** The sequence number at which the entry last changed, at B (at A for a path gone from B). */
  readonly changedSeq: number;
  /** For a change: whether the content differs (false: only the vector moved, e.g. a merge). */
  readonly contentChanged?: boolean;
}

export interface StateDiff {
  readonly from: number;
  readonly to: number;
  readonly added: readonly DiffEntry[];
  readonly changed: readonly DiffEntry[];
  readonly deleted: readonly DiffEntry[];
  readonly conflictsOpened: readonly ConflictEntry[];
  readonly conflictsClosed: readonly ConflictEntry[];
}

const live = (e: FileEntry | undefined): FileEntry | undefined => (e !== undefined && !e.version.deleted ? e : undefined);

/** The files and conflicts that differ between `a` (earlier) and `b` (later). */
export function diffStates(a: State, b: State): StateDiff {
  const added: DiffEntry[] = [];
  const changed: DiffEntry[] = [];
  const deleted: DiffEntry[] = [];
  const paths = [...new Set([...a.files.keys(), ...b.files.keys()])].sort();
  for (const path of paths) {
    const x = live(a.files.get(path));
    const y = live(b.files.get(path));
    if (x === undefined && y === undefined) continue;
    if (x === undefined && y !== undefined) added.push({ path, before: null, after: versionInfo(y.version), changedSeq: y.changedSeq });
    else if (x !== undefined && y === undefined) {
      const gone = b.files.get(path);
      deleted.push({ path, before: versionInfo(x.version), after: gone === undefined ? null : versionInfo(gone.version), changedSeq: gone?.changedSeq ?? x.changedSeq });
    } else if (x !== undefined && y !== undefined && versionId(x.version) !== versionId(y.version)) {
      const before = versionInfo(x.version);
      const after = versionInfo(y.version);
      changed.push({ path, before, after, changedSeq: y.changedSeq, contentChanged: before.contentHash !== after.contentHash || before.type !== after.type });
    }
  }
  const conflictsOpened = [...b.conflicts.values()].filter((c) => !a.conflicts.has(c.copyPath)).sort(byCopy);
  const conflictsClosed = [...a.conflicts.values()].filter((c) => !b.conflicts.has(c.copyPath)).sort(byCopy);
  return { from: a.meta.head, to: b.meta.head, added, changed, deleted, conflictsOpened, conflictsClosed };
}

const byCopy = (x: ConflictEntry, y: ConflictEntry): number => (x.copyPath < y.copyPath ? -1 : x.copyPath > y.copyPath ? 1 : 0);
