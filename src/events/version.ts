/**
 * A file version: everything peers exchange about one state of one path.
 * Block contents are never here, only their hashes.
 */
import type { Hlc } from '../core/hlc.js';
import type { BlockHash, PeerId } from '../core/ids.js';
import type { SyncPath } from '../core/path.js';
import type { VersionVector } from '../core/vv.js';

export type FileType = 'file' | 'directory' | 'symlink';

export interface FileVersion {
  readonly path: SyncPath;
  readonly type: FileType;
  /** Owner permission bits only, 0-7 (the seed's rule). */
  readonly mode: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly blockSizeBytes: number;
  readonly blocks: readonly BlockHash[];
  /** Symlink target, recorded but never followed. */
  readonly target?: string;
  readonly deleted: boolean;
  readonly vv: VersionVector;
  /** HLC stamp of the change that made this version, on its author's clock. */
  readonly hlc: Hlc;
  readonly author: PeerId;
}

/** Two versions have identical content: concurrent edits that agree merge silently. */
export function sameContent(a: FileVersion, b: FileVersion): boolean {
  if (a.deleted || b.deleted) return a.deleted === b.deleted;
  if (a.type !== b.type || a.mode !== b.mode || a.size !== b.size) return false;
  if ((a.target ?? '') !== (b.target ?? '')) return false;
  if (a.blocks.length !== b.blocks.length) return false;
  for (let i = 0; i < a.blocks.length; i++) if (a.blocks[i] !== b.blocks[i]) return false;
  return true;
}
