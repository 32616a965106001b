/**
 * A simulated disk: path -> entry (file bytes, directory or symlink; mode and
 * mtime), with a crash model.
 *
 * Theory of operation
 * - `live` is what a program sees now; `durable` is what survives a crash.
 *   A synced write updates both; an unsynced write updates `live` only and
 *   remembers the path, and `crash()` puts every remembered path back to its
 *   durable entry. Temporary transfer files are never durable until committed
 *   (committing fsyncs and renames them into place), so a crash loses them.
 * - `full` makes every write that allocates space fail with DISK_FULL.
 * - File contents are immutable Uint8Arrays: a write replaces the array, so
 *   block hashes can be cached per array (hashing is the expensive part).
 * - Paths are SyncPaths relative to the shared folder; the disk holds nothing
 *   outside it, so "no path escapes" is checked where paths come in (driver.ts).
 */
import { assert } from '../core/assert.js';
import { blockLength, blockSizeFor } from '../core/blocks.js';
import type { BlockHash } from '../core/ids.js';
import type { Hasher } from '../core/ports.js';

export type DiskEntry =
  | { readonly type: 'file'; readonly data: Uint8Array; readonly mode: number; readonly mtimeMs: number }
  | { readonly type: 'directory'; readonly mode: number; readonly mtimeMs: number }
  | { readonly type: 'symlink'; readonly target: string; readonly mode: number; readonly mtimeMs: number };

export const parentPath = (p: string): string | null => {
  const i = p.lastIndexOf('/');
  return i < 0 ? null : p.slice(0, i);
};

const isBelow = (p: string, dir: string): boolean => p.startsWith(`${dir}/`);

export class SimDisk {
  private readonly live = new Map<string, DiskEntry>();
  private readonly durable = new Map<string, DiskEntry>();
  private readonly unsynced = new Set<string>();
  private readonly hashCache = new WeakMap<Uint8Array, readonly BlockHash[]>();
  full = false;
  /** Bumped on every change (cheap change detection for the convergence probe). */
  version = 0;

  constructor(private readonly hasher: Hasher) {}

  get(path: string): DiskEntry | undefined {
    return this.live.get(path);
  }

  has(path: string): boolean {
    return this.live.has(path);
  }

  /** Every path, sorted (so parents come before their children). */
  paths(): string[] {
    return [...this.live.keys()].sort();
  }

  /** Paths strictly below `dir`, sorted. */
  descendants(dir: string): string[] {
    return this.paths().filter((p) => isBelow(p, dir));
  }

  hasChildren(dir: string): boolean {
    for (const p of this.live.keys()) if (isBelow(p, dir)) return true;
    return false;
  }

  /** Set (or with `undefined` remove) one entry; synced entries survive a crash. */
  put(path: string, entry: DiskEntry | undefined, sync: boolean): void {
    this.version++;
    if (entry === undefined) this.live.delete(path);
    else this.live.set(path, entry);
    if (sync) this.syncPath(path);
    else this.unsynced.add(path);
  }

  syncPath(path: string): void {
    const e = this.live.get(path);
    if (e === undefined) this.durable.delete(path);
    else this.durable.set(path, e);
    this.unsynced.delete(path);
  }

  /**
   * Make sure every ancestor of `path` is a directory, creating missing ones
   * (mkdir -p). Returns the directories it created, parents first, or null
   * when an ancestor exists but is not a directory.
   */
  ensureParents(path: string, sync: boolean, mtimeMs: number): string[] | null {
    const missing: string[] = [];
    for (let p = parentPath(path); p !== null; p = parentPath(p)) {
      const e = this.live.get(p);
      if (e === undefined) missing.push(p);
      else if (e.type !== 'directory') return null;
    }
    missing.reverse();
    for (const p of missing) this.put(p, { type: 'directory', mode: 7, mtimeMs }, sync);
    return missing;
  }

  /** True when a parent of `path` exists and is not a directory (nothing can be created there). */
  parentBlocked(path: string): boolean {
    for (let p = parentPath(path); p !== null; p = parentPath(p)) {
      const e = this.live.get(p);
      if (e !== undefined && e.type !== 'directory') return true;
    }
    return false;
  }

  /** rm -r: the entry and everything below it. Returns the removed paths. */
  removeTree(path: string, sync: boolean): string[] {
    const gone = [path, ...this.descendants(path)].filter((p) => this.live.has(p));
    for (const p of gone) this.put(p, undefined, sync);
    return gone;
  }

  /** Rename an entry and everything below it. Returns [from, to] pairs, parents first. */
  renameTree(from: string, to: string, sync: boolean): [string, string][] {
    assert(this.live.has(from), `rename of a missing path ${from}`);
    const moves: [string, string][] = [from, ...this.descendants(from)].map((p) => [p, to + p.slice(from.length)]);
    const entries = moves.map(([f]) => this.live.get(f) as DiskEntry);
    for (const [f] of moves) this.put(f, undefined, sync);
    moves.forEach(([, t], i) => this.put(t, entries[i], sync));
    return moves;
  }

  /** A machine crash: unsynced changes are lost. */
  crash(): void {
    this.version++;
    for (const p of this.unsynced) {
      const e = this.durable.get(p);
      if (e === undefined) this.live.delete(p);
      else this.live.set(p, e);
    }
    this.unsynced.clear();
    this.dropOrphans();
  }

  /**
   * Paths are restored one by one, but on a real file system an entry lives in
   * its parent directory: one whose parent did not survive as a directory is
   * unreachable after the crash, so it is gone too (parents are checked before
   * children, so a whole lost subtree goes).
   */
  private dropOrphans(): void {
    for (const p of [...this.live.keys()].sort()) {
      const slash = p.lastIndexOf('/');
      if (slash < 0) continue;
      const parent = this.live.get(p.slice(0, slash));
      if (parent === undefined || parent.type !== 'directory') {
        this.live.delete(p);
        this.durable.delete(p);
      }
    }
  }

  /** SHA-256 of each block of `data`, cached per array. */
  blockHashes(data: Uint8Array): readonly BlockHash[] {
    const cached = this.hashCache.get(data);
    if (cached !== undefined) return cached;
    const size = blockSizeFor(data.byteLength);
    const out: BlockHash[] = [];
    for (let off = 0, i = 0; off < data.byteLength; off += size, i++) {
      out.push(this.hasher.sha256(data.subarray(off, off + blockLength(data.byteLength, size, i))));
    }
    this.hashCache.set(data, out);
    return out;
  }

  /** A canonical description of the tree: path, type, mode and content (hashes or target). */
  snapshot(): string[] {
    return this.paths().map((p) => {
      const e = this.live.get(p) as DiskEntry;
      const content = e.type === 'file' ? this.blockHashes(e.data).join(',') : e.type === 'symlink' ? `-> ${e.target}` : '';
      return `${p} ${e.type} ${e.mode} ${content}`;
    });
  }
}
