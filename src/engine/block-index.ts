/**
 * Where each block hash can be read locally: hash -> (path, block number),
 * derived from the committed files (the files projection mirrors the disk).
 * A transfer copies a block it finds here instead of fetching it (DESIGN.md,
 * "a block already present in any local file is copied locally"), and IWANT
 * is served from here.
 *
 * Built once from state.files when the engine starts and then kept up to date
 * path by path: after every handle() call the engine re-indexes the paths whose
 * files entry changed. Only versions whose block list is consistent with their
 * size are indexed, so a hostile version cannot make us compute odd offsets.
 */
import { blockCount, blockLength } from '../core/blocks.js';
import { blockSizeMaxBytes } from '../core/constants.js';
import type { BlockHash } from '../core/ids.js';
import type { SyncPath } from '../core/path.js';
import type { FileVersion } from '../events/version.js';
import type { FileEntry } from '../projections/state.js';

export interface BlockLocation {
  readonly path: SyncPath;
  readonly offset: number;
  readonly length: number;
}

/** True when a file version's blocks agree with its size and block size. */
export function consistentBlocks(v: FileVersion): boolean {
  if (v.deleted || v.type !== 'file') return v.blocks.length === 0 || v.deleted;
  if (!Number.isSafeInteger(v.blockSizeBytes) || v.blockSizeBytes < 1 || v.blockSizeBytes > blockSizeMaxBytes) return false;
  return v.blocks.length === blockCount(v.size, v.blockSizeBytes);
}

export class BlockIndex {
  private readonly byHash = new Map<BlockHash, Map<SyncPath, number>>();
  private readonly byPath = new Map<SyncPath, FileVersion>();

  static fromFiles(files: ReadonlyMap<string, FileEntry>): BlockIndex {
    const index = new BlockIndex();
    for (const entry of files.values()) index.update(entry.version.path, entry.version);
    return index;
  }

  /** Re-index `path` from the version now committed there (undefined: nothing). */
  update(path: SyncPath, version: FileVersion | undefined): void {
    const old = this.byPath.get(path);
    if (old !== undefined) {
      for (const h of old.blocks) {
        const at = this.byHash.get(h);
        at?.delete(path);
        if (at?.size === 0) this.byHash.delete(h);
      }
      this.byPath.delete(path);
    }
    if (version === undefined || version.deleted || version.type !== 'file' || !consistentBlocks(version)) return;
    this.byPath.set(path, version);
    version.blocks.forEach((h, i) => {
      let at = this.byHash.get(h);
      if (at === undefined) this.byHash.set(h, (at = new Map()));
      if (!at.has(path)) at.set(path, i);
    });
  }

  /** A local place holding `hash`, or null. */
  find(hash: BlockHash): BlockLocation | null {
    const at = this.byHash.get(hash);
    if (at === undefined) return null;
    for (const [path, i] of at) {
      const v = this.byPath.get(path);
      if (v === undefined) continue;
      return { path, offset: i * v.blockSizeBytes, length: blockLength(v.size, v.blockSizeBytes, i) };
    }
    return null;
  }

  /** Number of distinct hashes indexed (for tests and status). */
  get size(): number {
    return this.byHash.size;
  }
}
