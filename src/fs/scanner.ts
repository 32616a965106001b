/**
 * The scanner: walk the shared folder and say what is there, as local
 * observations the engine can log.
 *
 * Theory of operation
 * - Walk: one readdir per directory, then an lstat per entry, both synchronous
 *   (several times cheaper than the promise API for small calls; the walk
 *   yields to the event loop every walkEntriesPerYield entries),
 *   never following a symlink (a symlink is recorded with its readlink target).
 *   Names become NFC sync paths. Temp files, `.ploppyignore`d paths and
 *   special files (sockets, fifos, devices) are left out; temp files are listed
 *   so the caller can remove stale ones. A `.ploppyignore` applies from the
 *   moment its directory is read.
 * - Trust: a file whose (size, mtime, inode) match the caller's cache keeps its
 *   cached blocks without being read. Everything else is hashed, on the hash
 *   pool's worker threads when one is given (handed over as the walk finds
 *   them, so workers hash while this thread walks), with progress reported as
 *   files and bytes complete.
 * - Report: `changed` holds only what differs from the cache (parents before
 *   children), `deleted` what the cache knew under the scanned path that is gone
 *   (children first). A directory that could not be read hides nothing: what
 *   the cache knew under it is not reported deleted.
 */
import { lstatSync, readdirSync } from 'node:fs';
import { lstat, readlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { ignoreFileName, stagingDirName, walkEntriesPerYield } from '../core/constants.js';
import { isPloppyError } from '../core/errors.js';
import { isUnder, toSyncPath } from '../core/path.js';
import type { SyncPath } from '../core/path.js';
import type { LocalChange } from '../engine/types.js';
import type { LocalObservation } from '../events/types.js';
import type { FileEntry } from '../projections/state.js';
import { cacheMatches, entryWithoutBlocks, isTempName, observationOf, ownerBits, sameContent, sameMtime, typeOf } from './disk.js';
import type { CachedEntry, DiskEntry } from './disk.js';
import { errnoOf, isNotFound, SharedFolder } from './folder.js';
import { hashFileAsync } from './hash-core.js';
import type { FileDigest } from './hash-core.js';
import type { HashPool } from './hash-pool.js';
import { IgnoreRules } from './ignore.js';

/** Where a scan is: walking the tree, then hashing what the cache could not vouch for. */
export interface ScanProgress {
  readonly phase: 'walking' | 'hashing' | 'done';
  /** Entries found so far (files, directories, symlinks). */
  readonly entries: number;
  readonly filesToHash: number;
  readonly filesHashed: number;
  readonly bytesToHash: number;
  readonly bytesHashed: number;
}

/** How to scan; every field is optional. */
export interface ScanOptions {
  /**
   * What the caller knows: path -> entry. Also the set of paths "known before",
   * for deletions. Give it the live (not deleted) versions of the files
   * projection, with mtime and inode as last seen on disk (`ScanResult.entries`).
   */
  readonly cache?: ReadonlyMap<string, CachedEntry>;
  /** Scan only this path (a file or a directory tree); default: everything. */
  readonly under?: SyncPath;
  /** Rules to use; default: loaded from the folder as the walk goes. */
  readonly ignore?: IgnoreRules;
  /** Worker threads for hashing; without one, hashing runs in this thread. */
  readonly pool?: HashPool;
  /** Called often (every file hashed): keep it cheap, throttle the display. */
  readonly onProgress?: (progress: ScanProgress) => void;
  /**
   * Each change as soon as it is known, so the caller can act on the first
   * files while the rest are still being hashed: directories and symlinks
   * first, in walk order (parents before children), then files as their
   * hashes arrive. The result's `changed` still lists them all.
   */
  readonly onChanged?: (observation: LocalObservation) => void;
}

/**
 * The cache a scan of the shared folder is given (at or under `under`, when
 * given): each live version of the files projection with the mtime last seen
 * for its content (FileEntry.seenMtimeMs) and the inode last seen, if any.
 */
export function scanCacheOf(
  files: ReadonlyMap<string, FileEntry>, seen: ReadonlyMap<string, { readonly ino: number }>, under?: SyncPath,
): Map<string, CachedEntry> {
  const out = new Map<string, CachedEntry>();
  const prefix = under === undefined ? '' : `${under}/`;
  for (const [p, f] of files) {
    if (f.version.deleted || (under !== undefined && p !== under && !p.startsWith(prefix))) continue;
    const ino = seen.get(p)?.ino;
    const entry = f.seenMtimeMs === undefined ? f.version : { ...f.version, mtimeMs: f.seenMtimeMs };
    out.set(p, ino === undefined ? entry : { ...entry, ino });
  }
  return out;
}

/** What a scan found, relative to the cache it was given. */
export interface ScanResult {
  /** New or different entries, parents before children. */
  readonly changed: LocalObservation[];
  /** Paths the cache knew that are gone, children before parents. */
  readonly deleted: SyncPath[];
  /** Every entry seen, as it is on disk now (the next scan's cache; the watcher's seed). */
  readonly entries: Map<SyncPath, DiskEntry>;
  readonly unchanged: number;
  readonly files: number;
  readonly directories: number;
  readonly symlinks: number;
  readonly bytes: number;
  /** Entries left out, with why (unreadable, not NFC-representable, special file...). */
  readonly skipped: { readonly path: string; readonly reason: string }[];
  /** Native absolute paths of ploppy temp files found (stale unless a transfer is running). */
  readonly tempFiles: string[];
  readonly ignore: IgnoreRules;
}

interface Found {
  readonly path: SyncPath;
  readonly native: string;
  readonly st: Stats;
}

interface Walk {
  readonly folder: SharedFolder;
  readonly ignore: IgnoreRules;
  readonly loadIgnores: boolean;
  readonly found: Found[];
  readonly seen: Set<string>;
  readonly unreadable: string[];
  readonly skipped: { path: string; reason: string }[];
  readonly tempFiles: string[];
  readonly onProgress: ((p: ScanProgress) => void) | undefined;
  /** Entries looked at since the walk last let the event loop run. */
  sinceYield: number;
  readonly cache: ReadonlyMap<string, CachedEntry>;
  readonly pool: HashPool | undefined;
  /** Hashing started on the pool while the walk goes on (workers hash while this thread walks). */
  readonly started: Map<string, Promise<FileDigest>>;
}

/** Scan the shared folder `root` (or the part of it named by `options.under`). */
export async function scan(root: string, options: ScanOptions = {}): Promise<ScanResult> {
  const folder = await SharedFolder.open(root);
  const ignore = options.ignore ?? (options.under === undefined ? new IgnoreRules() : await IgnoreRules.load(folder.root));
  const cache = options.cache ?? new Map<string, CachedEntry>();
  const walk: Walk = {
    folder, ignore, loadIgnores: options.ignore === undefined && options.under === undefined,
    found: [], seen: new Set(), unreadable: [], skipped: [], tempFiles: [], onProgress: options.onProgress, sinceYield: 0,
    cache, pool: options.pool, started: new Map(),
  };
  if (options.under === undefined) await walkDirectory(walk, folder.root, '');
  else await walkFrom(walk, options.under);
  const classified = await classify(walk, cache, options);
  const deleted = deletions(walk, cache, options.under);
  return summarise(walk, classified, deleted);
}

/** A rescan of one path: the path itself, and its subtree when it is a directory. */
async function walkFrom(walk: Walk, under: SyncPath): Promise<void> {
  if (walk.ignore.ignores(under, false)) return;
  let native: string;
  let st: Stats;
  try {
    native = await walk.folder.resolve(under);
    st = await lstat(native);
  } catch (e) {
    if (isNotFound(e) || isPloppyError(e, 'PATH_ESCAPES_FOLDER')) return; // gone, or only reachable through a symlink
    throw e;
  }
  if (st.isDirectory() && walk.ignore.ignores(under, true)) return;
  record(walk, { path: under, native, st });
  if (st.isDirectory()) await walkDirectory(walk, native, under);
}

function record(walk: Walk, f: Found): void {
  walk.seen.add(f.path);
  if (typeOf(f.st) === null) {
    walk.skipped.push({ path: f.path, reason: 'not a regular file, directory or symlink' });
    return;
  }
  walk.found.push(f);
  if (walk.pool !== undefined && f.st.isFile() && !trusted(walk.cache.get(f.path), f.st)) {
    const digest = walk.pool.hash(f.native, f.st.size);
    digest.catch(() => undefined); // awaited (and its failure handled) in hashAll
    walk.started.set(f.path, digest);
  }
}

const trusted = (cached: CachedEntry | undefined, st: Stats): cached is CachedEntry => cached !== undefined && cacheMatches(cached, 'file', st);

/** The temp files in the applier's staging directory (never walked as part of the tree). */
function stagedFiles(nativeDir: string): string[] {
  try {
    return readdirSync(nativeDir, { withFileTypes: true }).filter((e) => !e.isDirectory()).map((e) => path.join(nativeDir, e.name));
  } catch (e) {
    if (isNotFound(e)) return [];
    throw e;
  }
}

async function walkDirectory(walk: Walk, nativeDir: string, dir: string): Promise<void> {
  if (++walk.sinceYield >= walkEntriesPerYield) await yieldNow(walk);
  let entries;
  try {
    entries = readdirSync(nativeDir, { withFileTypes: true });
  } catch (e) {
    if (isNotFound(e)) return;
    walk.unreadable.push(dir);
    walk.skipped.push({ path: dir, reason: `unreadable directory (${errnoOf(e) ?? String(e)})` });
    return;
  }
  if (walk.loadIgnores && entries.some((e) => e.name === ignoreFileName && e.isFile())) await walk.ignore.reload(nativeDir, dir);
  const candidates: { path: SyncPath; native: string }[] = [];
  const names = new Set<string>();
  for (const entry of entries) {
    const native = path.join(nativeDir, entry.name);
    if (isTempName(entry.name)) {
      if (entry.isDirectory() && entry.name === stagingDirName) walk.tempFiles.push(...stagedFiles(native));
      else walk.tempFiles.push(native);
      continue;
    }
    const p = syncPathOf(walk, dir, entry.name, names);
    if (p === null || walk.ignore.ignores(p, entry.isDirectory())) continue;
    candidates.push({ path: p, native });
  }
  const subdirectories: { path: SyncPath; native: string }[] = [];
  for (let i = 0; i < candidates.length; i++) {
    if (++walk.sinceYield >= walkEntriesPerYield) await yieldNow(walk);
    const c = candidates[i] as { path: SyncPath; native: string };
    const st = lstatIfThere(c.native);
    if (st === null) continue;
    record(walk, { ...c, st });
    if (st.isDirectory()) subdirectories.push(c);
  }
  walk.onProgress?.({ phase: 'walking', entries: walk.found.length, filesToHash: 0, filesHashed: 0, bytesToHash: 0, bytesHashed: 0 });
  for (const d of subdirectories) await walkDirectory(walk, d.native, d.path);
}

/** An entry that disappeared between readdir and lstat was never there. */
function lstatIfThere(native: string): Stats | null {
  try {
    return lstatSync(native);
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

const vanished = (e: unknown): null => {
  if (isNotFound(e)) return null;
  throw e;
};

/** The walk is synchronous: it lets timers and sockets run every walkEntriesPerYield entries. */
async function yieldNow(walk: Walk): Promise<void> {
  walk.sinceYield = 0;
  await new Promise((resolve) => setImmediate(resolve));
}

/** The sync path of `name` in `dir`, or null (recorded as skipped) when it has none or a twin. */
function syncPathOf(walk: Walk, dir: string, name: string, namesInDir: Set<string>): SyncPath | null {
  const raw = dir === '' ? name : `${dir}/${name}`;
  let p: SyncPath;
  try {
    p = toSyncPath(raw);
  } catch (e) {
    walk.skipped.push({ path: raw, reason: e instanceof Error ? e.message : String(e) });
    return null;
  }
  if (namesInDir.has(p)) {
    walk.skipped.push({ path: raw, reason: 'another name in this directory has the same NFC form' });
    return null;
  }
  namesInDir.add(p);
  return p;
}

// ------------------------------------------------------------------ classify and hash

interface Classified {
  readonly entries: Map<SyncPath, DiskEntry>;
  readonly changed: DiskEntry[];
  unchanged: number;
  readonly onChanged: ((observation: LocalObservation) => void) | undefined;
}

async function classify(walk: Walk, cache: ReadonlyMap<string, CachedEntry>, options: ScanOptions): Promise<Classified> {
  const out: Classified = { entries: new Map(), changed: [], unchanged: 0, onChanged: options.onChanged };
  const toHash: Found[] = [];
  const links = walk.found.filter((f) => f.st.isSymbolicLink());
  const targets = await Promise.all(links.map((f) => readlink(f.native).catch(vanished)));
  const targetOf = new Map(links.map((f, i) => [f.path, targets[i]]));
  for (const f of walk.found) {
    const cached = cache.get(f.path);
    if (f.st.isFile()) {
      if (trusted(cached, f.st)) keep(out, cached, fileEntry(f, cached));
      else toHash.push(f);
      continue;
    }
    const target = targetOf.get(f.path);
    if (target === null) continue; // a symlink that vanished before readlink
    keep(out, cached, entryWithoutBlocks(f.path, f.st.isDirectory() ? 'directory' : 'symlink', f.st, target));
  }
  await hashAll(walk, toHash, options.pool, (f, digest) => keep(out, cache.get(f.path), digestEntry(f.path, digest)), options.onProgress);
  return out;
}

/**
 * Record `entry`; it is a change unless the cache already says the same. A
 * file with the cached content but another mtime (touched, or rewritten with
 * the same bytes) is reported too: it makes no new version, but the engine
 * remembers the mtime (FileEntry.seenMtimeMs), so the next scan trusts the
 * file by its stat instead of hashing it again.
 */
function keep(out: Classified, cached: CachedEntry | undefined, entry: DiskEntry): void {
  out.entries.set(entry.path, entry);
  if (cached !== undefined && sameContent(cached, entry) && (entry.type !== 'file' || sameMtime(cached.mtimeMs, entry.mtimeMs))) {
    out.unchanged++;
    return;
  }
  out.changed.push(entry);
  out.onChanged?.(observationOf(entry));
}

/** A file trusted from the cache: its blocks, today's stat. */
const fileEntry = (f: Found, cached: CachedEntry): DiskEntry => ({
  path: f.path, type: 'file', mode: ownerBits(f.st.mode), size: f.st.size, mtimeMs: f.st.mtimeMs,
  blockSizeBytes: cached.blockSizeBytes, blocks: cached.blocks, ino: f.st.ino,
});

/** The entry for a freshly hashed file. */
export const digestEntry = (p: SyncPath, d: FileDigest): DiskEntry => ({
  path: p, type: 'file', mode: ownerBits(d.statMode), size: d.size, mtimeMs: d.mtimeMs,
  blockSizeBytes: d.blockSizeBytes, blocks: d.blocks, ino: d.ino,
});

async function hashAll(
  walk: Walk, files: Found[], pool: HashPool | undefined,
  done: (f: Found, d: FileDigest) => void, onProgress: ((p: ScanProgress) => void) | undefined,
): Promise<void> {
  const bytesToHash = files.reduce((n, f) => n + f.st.size, 0);
  let filesHashed = 0;
  let bytesHashed = 0;
  const report = (phase: ScanProgress['phase']): void =>
    onProgress?.({ phase, entries: walk.found.length, filesToHash: files.length, filesHashed, bytesToHash, bytesHashed });
  report('hashing');
  const one = async (f: Found, digest: Promise<FileDigest>): Promise<void> => {
    try {
      done(f, await digest);
    } catch (e) {
      if (isNotFound(e)) walk.seen.delete(f.path);
      else walk.skipped.push({ path: f.path, reason: e instanceof Error ? e.message : String(e) });
    }
    filesHashed++;
    bytesHashed += f.st.size;
    report('hashing');
  };
  if (pool !== undefined) {
    await Promise.all(files.map((f) => one(f, walk.started.get(f.path) ?? pool.hash(f.native, f.st.size))));
  } else {
    const buffer = Buffer.allocUnsafe(4 * 1024 * 1024);
    for (const f of files) await one(f, hashFileAsync(f.native, buffer));
  }
  report('done');
}

function deletions(walk: Walk, cache: ReadonlyMap<string, CachedEntry>, under: SyncPath | undefined): SyncPath[] {
  const deleted: SyncPath[] = [];
  for (const [p, cached] of cache) {
    if (under !== undefined && !isUnder(p, under)) continue;
    if (walk.seen.has(p)) continue;
    if (walk.unreadable.some((dir) => dir === '' || isUnder(p, dir))) continue;
    if (walk.ignore.ignores(p, cached.type === 'directory')) continue;
    deleted.push(p as SyncPath);
  }
  return deleted.sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
}

function summarise(walk: Walk, c: Classified, deleted: SyncPath[]): ScanResult {
  let files = 0;
  let directories = 0;
  let symlinks = 0;
  let bytes = 0;
  for (const e of c.entries.values()) {
    if (e.type === 'file') { files++; bytes += e.size; }
    else if (e.type === 'directory') directories++;
    else symlinks++;
  }
  const changed = c.changed.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)).map(observationOf);
  return {
    changed, deleted, entries: c.entries, unchanged: c.unchanged, files, directories, symlinks, bytes,
    skipped: walk.skipped, tempFiles: walk.tempFiles, ignore: walk.ignore,
  };
}

/**
 * A scan as the engine's inputs: every change, every deletion, then
 * scanFinished. `changesStreamed`: the changes already went out through
 * ScanOptions.onChanged, so only the rest is left.
 */
export function toLocalChanges(result: ScanResult, changesStreamed = false): LocalChange[] {
  return [
    ...(changesStreamed ? [] : result.changed.map((observation): LocalChange => ({ kind: 'changed', observation }))),
    ...result.deleted.map((p): LocalChange => ({ kind: 'deleted', path: p })),
    { kind: 'scanFinished', files: result.files, bytes: result.bytes },
  ];
}

/**
 * Observe one path now (for rescans and the watcher): its entry, hashed when it
 * is a file, or null when nothing syncable is there. `native` is its real path.
 */
export async function observe(p: SyncPath, native: string, pool?: HashPool): Promise<DiskEntry | null> {
  let st: Stats;
  try {
    st = await lstat(native);
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
  const type = typeOf(st);
  if (type === null) return null;
  if (type === 'directory') return entryWithoutBlocks(p, type, st);
  try {
    if (type === 'symlink') return entryWithoutBlocks(p, type, st, await readlink(native));
    return digestEntry(p, await (pool !== undefined ? pool.hash(native, st.size) : hashFileAsync(native)));
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}
