/**
 * What ploppy records about one entry on disk, and the small rules that map
 * between disk metadata and file versions: owner mode bits, the permission bits
 * we apply, mtime equality, and the names of the applier's temporary files.
 */
import type { Stats } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { blockSizeFor } from '../core/blocks.js';
import { mtimeSlackMs, pathSegmentBytesMax, stagingDirName, tempFilePrefix } from '../core/constants.js';
import type { LocalObservation } from '../events/types.js';
import type { FileType, FileVersion } from '../events/version.js';

/**
 * A local observation plus the inode it was made on. The inode (with size and
 * mtime) is what lets a later scan skip hashing an unchanged file, and what lets
 * the watcher recognise a rename.
 */
export interface DiskEntry extends LocalObservation {
  readonly ino: number;
}

/**
 * What a scan may trust instead of hashing: a FileVersion from the files
 * projection fits, with the inode the daemon remembered (when it has one).
 */
export interface CachedEntry {
  readonly type: FileType;
  readonly mode: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly blockSizeBytes: number;
  readonly blocks: LocalObservation['blocks'];
  readonly target?: string;
  /** Without an inode, a file matching on size and mtime is trusted (rsync's rule). */
  readonly ino?: number;
}

/** The seed's rule: only the owner's permission bits are synced. */
export const ownerBits = (statMode: number): number => (statMode >> 6) & 7;

/**
 * Permission bits written to disk for owner bits `owner`. Group and other get
 * the owner's read and execute bits but never write: 6 -> 0o644, 7 -> 0o755,
 * 4 -> 0o444, 5 -> 0o555. Applied with chmod, so the umask does not interfere.
 */
export const diskModeFor = (owner: number): number => (owner << 6) | ((owner & 5) << 3) | (owner & 5);

/** Equal mtimes, within what a utimes() round trip loses (mtimeSlackMs). */
export const sameMtime = (a: number, b: number): boolean => Math.abs(a - b) <= mtimeSlackMs;

/** The sync type of an lstat result; null for what is never synced (sockets, fifos, devices). */
export function typeOf(st: Stats): FileType | null {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  return null;
}

/** Directories and symlinks have no blocks; their size is recorded as 0. */
export function entryWithoutBlocks(path: DiskEntry['path'], type: 'directory' | 'symlink', st: Stats, target?: string): DiskEntry {
  const base = {
    path, type, mode: ownerBits(st.mode), size: 0, mtimeMs: st.mtimeMs,
    blockSizeBytes: blockSizeFor(0), blocks: [], ino: st.ino,
  };
  return target === undefined ? base : { ...base, target };
}

/** The observation part of an entry (what is logged: no inode). */
export function observationOf(e: DiskEntry): LocalObservation {
  const base = { path: e.path, type: e.type, mode: e.mode, size: e.size, mtimeMs: e.mtimeMs, blockSizeBytes: e.blockSizeBytes, blocks: e.blocks };
  return e.target === undefined ? base : { ...base, target: e.target };
}

/** True when a cached entry describes what `st` shows, so its blocks can be trusted. */
export function cacheMatches(cached: CachedEntry, type: FileType, st: Stats): boolean {
  if (cached.type !== type) return false;
  if (type === 'directory') return true;
  if (type === 'symlink') return false; // the target decides; readlink is cheap
  return cached.size === st.size && sameMtime(cached.mtimeMs, st.mtimeMs) && (cached.ino === undefined || cached.ino === st.ino);
}

/** Same content and metadata for sync purposes (mtime ignored: it does not make a new version). */
export function sameContent(a: Omit<CachedEntry, 'mtimeMs' | 'ino'>, b: Omit<CachedEntry, 'mtimeMs' | 'ino'>): boolean {
  if (a.type !== b.type || a.mode !== b.mode || a.size !== b.size) return false;
  if ((a.target ?? '') !== (b.target ?? '')) return false;
  return a.blocks.length === b.blocks.length && a.blocks.every((h, i) => h === b.blocks[i]);
}

const tempNamePattern = /^\.ploppy-tmp-[0-9a-f]{8}-/;

/** Any name with the temp prefix is never synced (a peer cannot plant one either). */
export const isTempName = (name: string): boolean => name.startsWith(tempFilePrefix);

/** Names the applier itself makes: only these are removed as stale. */
export const isApplierTempName = (name: string): boolean => tempNamePattern.test(name);

/**
 * The temp file for (basename, version): `.ploppy-tmp-<hash8>-<basename>`, where
 * hash8 identifies the content (size, block size, blocks, symlink target), so a
 * transfer interrupted by a restart finds its blocks again. The basename is cut
 * to keep the whole name within the file system's 255-byte limit.
 */
export function tempNameFor(basename: string, version: Pick<FileVersion, 'size' | 'blockSizeBytes' | 'blocks' | 'target' | 'type'>): string {
  const prefix = `${tempFilePrefix}${contentHash8(version)}-`;
  return prefix + truncateUtf8(basename, pathSegmentBytesMax - prefix.length);
}

/**
 * The temp file for (path p, version) in the staging directory (stagingDirName
 * under `root`): `.ploppy-tmp-<hash8>-<path12>-<basename>`, hash8 as in
 * tempNameFor and path12 the start of the SHA-256 of the sync path, so files
 * of one content at different paths, assembled side by side in one directory,
 * never share a temp file. The basename is there for people looking in.
 */
export function stagedTempPath(root: string, p: string, version: Pick<FileVersion, 'size' | 'blockSizeBytes' | 'blocks' | 'target' | 'type'>): string {
  const prefix = `${tempFilePrefix}${contentHash8(version)}-${createHash('sha256').update(p).digest('hex').slice(0, 12)}-`;
  const basename = p.slice(p.lastIndexOf('/') + 1);
  return path.join(root, stagingDirName, prefix + truncateUtf8(basename, pathSegmentBytesMax - prefix.length));
}

/**
 * Versions are immutable and a transfer passes the same version object with
 * every block it writes; a 256 MiB file's identity is ~70 KB of text to hash,
 * so it is hashed once per version object.
 */
const hash8ByVersion = new WeakMap<object, string>();

function contentHash8(version: Pick<FileVersion, 'size' | 'blockSizeBytes' | 'blocks' | 'target' | 'type'>): string {
  const cached = hash8ByVersion.get(version);
  if (cached !== undefined) return cached;
  const identity = `${version.type}\n${version.size}\n${version.blockSizeBytes}\n${version.blocks.join(',')}\n${version.target ?? ''}`;
  const hash8 = createHash('sha256').update(identity).digest('hex').slice(0, 8);
  hash8ByVersion.set(version, hash8);
  return hash8;
}

function truncateUtf8(s: string, bytesMax: number): string {
  if (Buffer.byteLength(s) <= bytesMax) return s;
  let out = '';
  let used = 0;
  for (const ch of s) {
    const n = Buffer.byteLength(ch);
    if (used + n > bytesMax) break;
    out += ch;
    used += n;
  }
  return out;
}
