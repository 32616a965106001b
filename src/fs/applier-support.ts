/**
 * The applier's plumbing: the cache of open temporary files, the per-batch
 * directory fsyncs, the comparison of what is on disk with what the engine
 * expects, and the mapping of errors to effect results.
 */
import { readlink, readdir, rmdir, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { closeSync, constants, fdatasync, fsync, ftruncate, lstatSync, openSync, read, write, writeSync } from 'node:fs';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { AssertionError } from '../core/assert.js';
import { sameBlockList } from '../core/blocks.js';
import { PloppyError, isPloppyError } from '../core/errors.js';
import type { EffectResult } from '../engine/types.js';
import type { FileVersion } from '../events/version.js';
import { isApplierTempName, ownerBits, sameMtime, typeOf } from './disk.js';
import { errnoOf, isNotFound } from './folder.js';
import type { FileDigest } from './hash-core.js';

/** A temp file gets a background datasync after this many bytes written (see OpenTemps). */
const writebackBytes = 32 * 1024 * 1024;

/** Temp files whose verified blocks are remembered, at most (a transfer given up leaves its record behind). */
const verifiedTempsMax = 4096;

/** Block indices written to a temp file, and the block list of the content they belong to. */
interface VerifiedBlocks {
  readonly blocks: readonly string[];
  readonly indices: Set<number>;
}

/** Read-write, created if missing, never truncated, never through a symlink planted at the name. */
const tempOpenFlags = constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW;

/**
 * An open temp file (or directory, for its fsync): a raw descriptor, opened
 * and closed from this thread, with the few FileHandle methods the applier
 * uses. Opening and closing are metadata operations the kernel answers from
 * memory; through the promise API's FileHandle each cost the event loop
 * ~25 µs, and a receiver of 20,000 small files opens and closes a temp file
 * for each (and its directory for each batch). An fsync and a large read or
 * write still go through the thread pool.
 */
export class TempFile {
  private closed = false;

  private constructor(readonly fd: number) {}

  /** Open `native` (synchronously; errors are thrown as by fs.openSync). */
  static open(native: string, flags: number, mode?: number): TempFile {
    return new TempFile(openSync(native, flags, mode));
  }

  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }> {
    return new Promise((resolve, reject) => read(this.fd, buffer, offset, length, position, (e, bytesRead) => (e === null ? resolve({ bytesRead }) : reject(e))));
  }

  write(data: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }> {
    return new Promise((resolve, reject) => write(this.fd, data, offset, length, position, (e, bytesWritten) => (e === null ? resolve({ bytesWritten }) : reject(e))));
  }

  sync(): Promise<void> {
    return new Promise((resolve, reject) => fsync(this.fd, (e) => (e === null ? resolve() : reject(e))));
  }

  datasync(): Promise<void> {
    return new Promise((resolve, reject) => fdatasync(this.fd, (e) => (e === null ? resolve() : reject(e))));
  }

  truncate(length: number): Promise<void> {
    return new Promise((resolve, reject) => ftruncate(this.fd, length, (e) => (e === null ? resolve() : reject(e))));
  }

  /** Close the descriptor (once; later calls do nothing). */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      closeSync(this.fd);
    }
    return Promise.resolve();
  }
}

interface OpenTemp {
  readonly handle: TempFile;
  users: number;
  /** Bytes written since the last background datasync was started. */
  unsynced: number;
  /** The background datasync in flight, if any. */
  syncing: Promise<void> | null;
  /** Called when the last user releases it (a discard waits for that before closing). */
  onIdle: (() => void) | null;
}

/**
 * Temp files kept open between writeBlock calls, least recently used closed
 * first, never one that is in use. No truncate on creation: blocks written out
 * of order leave holes, and commit verifies size and content anyway.
 *
 * Early writeback: every writebackBytes written to a temp file start a
 * datasync in the background. With gigabytes of RAM the kernel would
 * otherwise keep a whole large file dirty until the commit's fsync, which
 * then writes it all out at once, after the last block arrived; this way the
 * disk writes while the network delivers, and the commit's fsync finds little
 * left to do. (It syncs more, never less.)
 */
export class OpenTemps {
  private readonly handles = new Map<string, OpenTemp>();
  /** Handles being discarded, until their last user releases them. */
  private readonly leaving = new Map<string, OpenTemp>();
  /**
   * Per temp file, the block indices this process wrote to it, each hashed
   * just before, and the block list they belong to (kept when its handle is
   * closed to make room: nothing else writes to the applier's temp files;
   * forgotten when it is committed or discarded, and the oldest first beyond
   * verifiedTempsMax). A temp file's name holds only 32 bits of its content's
   * hash, so the block list is what says the blocks are this content's.
   */
  private readonly verified = new Map<string, VerifiedBlocks>();

  constructor(private readonly openMax: number) {}

  /** The temp file at `native`, created (mode 0600) if needed; `release` it after use. */
  async acquire(native: string): Promise<TempFile> {
    const cached = this.handles.get(native);
    if (cached !== undefined) {
      this.handles.delete(native);
      this.handles.set(native, cached);
      cached.users++;
      return cached.handle;
    }
    const handle = TempFile.open(native, tempOpenFlags, 0o600);
    this.handles.set(native, { handle, users: 1, unsynced: 0, syncing: null, onIdle: null });
    await this.evict();
    return handle;
  }

  /** True when `native` is held open (its path need not be resolved again to write to it). */
  isOpen(native: string): boolean {
    return this.handles.has(native);
  }

  /**
   * Blocks `indices` of the file whose blocks are `blocks` (each hashed just
   * before, `bytes` in all) were written to `native`: start a background
   * datasync when enough piled up.
   */
  written(native: string, blocks: readonly string[], indices: readonly number[], bytes: number): void {
    let verified = this.verified.get(native);
    if (verified === undefined || !sameBlockList(verified.blocks, blocks)) {
      this.verified.delete(native);
      this.verified.set(native, (verified = { blocks, indices: new Set() }));
      for (const old of this.verified.keys()) {
        if (this.verified.size <= verifiedTempsMax) break;
        this.verified.delete(old);
      }
    }
    for (const index of indices) verified.indices.add(index);
    const entry = this.handles.get(native);
    if (entry === undefined) return;
    entry.unsynced += bytes;
    if (entry.unsynced < writebackBytes || entry.syncing !== null) return;
    entry.unsynced = 0;
    entry.syncing = entry.handle.datasync().then(
      () => { entry.syncing = null; },
      () => { entry.syncing = null; }, // the commit's own fsync reports what matters
    );
  }

  release(native: string): void {
    const entry = this.handles.get(native) ?? this.leaving.get(native);
    if (entry === undefined) return;
    entry.users--;
    if (entry.users === 0) entry.onIdle?.();
  }

  private async evict(): Promise<void> {
    for (const [native, entry] of this.handles) {
      if (this.handles.size <= this.openMax) return;
      if (entry.users > 0) continue;
      this.handles.delete(native);
      await entry.syncing;
      await entry.handle.close();
    }
  }

  /**
   * Hand over the open handle of `native` (the caller closes it), if one is
   * cached.
   */
  async take(native: string): Promise<TempFile | undefined> {
    const entry = this.handles.get(native);
    this.handles.delete(native);
    await entry?.syncing;
    return entry?.handle;
  }

  /**
   * How many distinct blocks of the file whose blocks are `blocks` this
   * process hashed and wrote to `native` (an earlier run's blocks are
   * unaccounted for), forgetting them: the caller is about to commit it.
   */
  takeVerified(native: string, blocks: readonly string[]): number {
    const verified = this.verified.get(native);
    this.verified.delete(native);
    return verified !== undefined && sameBlockList(verified.blocks, blocks) ? verified.indices.size : 0;
  }

  /**
   * Close and delete a temp file (a failed write: nothing half-done stays
   * behind). Writes still under way through the handle (several local copies
   * of one file run at once) finish first: its descriptor is never closed
   * under a worker writing through it.
   */
  async discard(native: string): Promise<void> {
    const entry = this.handles.get(native);
    this.verified.delete(native);
    if (entry !== undefined) {
      this.handles.delete(native);
      this.leaving.set(native, entry);
      if (entry.users > 0) await new Promise<void>((resolve) => { entry.onIdle = resolve; });
      this.leaving.delete(native);
      await entry.syncing;
      await entry.handle.close();
    }
    await unlink(native).catch(() => undefined);
  }

  async closeAll(): Promise<void> {
    const all = [...this.handles.values()];
    this.handles.clear();
    await Promise.all(all.map(async (e) => {
      await e.syncing;
      await e.handle.close();
    }));
  }
}

/**
 * What one batch of operations shares: the directories to fsync once at the
 * end (an fsync failure fails every operation that touched that directory),
 * and the directories already checked to be real (not symlinks), so deep
 * paths are not lstat'ed segment by segment for every operation.
 */
export class Batch {
  private readonly dirs = new Map<string, number[]>();

  /** `verifiedDirectories`: this batch's own, or a longer-lived set the caller keeps (ApplierOptions.watched). */
  constructor(readonly verifiedDirectories = new Set<string>()) {}

  fsyncLater(dir: string, opIndex: number): void {
    const list = this.dirs.get(dir);
    if (list === undefined) this.dirs.set(dir, [opIndex]);
    else if (list[list.length - 1] !== opIndex) list.push(opIndex);
  }

  /** Directories were removed or moved: what was verified may no longer be there. */
  forgetVerified(): void {
    this.verifiedDirectories.clear();
  }

  /** Fsync every directory (concurrently: the file system groups them); failures by operation index. */
  async flush(): Promise<Map<number, EffectResult>> {
    const failed = new Map<number, EffectResult>();
    await Promise.all([...this.dirs].map(async ([dir, indices]) => {
      try {
        await fsyncDirectory(dir);
      } catch (e) {
        if (isNotFound(e)) return; // removed later in the batch: nothing left to make durable
        for (const i of indices) failed.set(i, failureOf(e));
      }
    }));
    this.dirs.clear();
    return failed;
  }
}

export async function fsyncDirectory(dir: string): Promise<void> {
  const h = TempFile.open(dir, constants.O_RDONLY);
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/** An effect failure from an error; assertion failures are bugs and propagate. */
export function failureOf(e: unknown): EffectResult {
  if (e instanceof AssertionError) throw e;
  if (isPloppyError(e)) return { ok: false, code: e.code, message: e.message };
  const errno = errnoOf(e);
  const message = e instanceof Error ? e.message : String(e);
  if (errno === 'ENOSPC' || errno === 'EDQUOT') return { ok: false, code: 'DISK_FULL', message };
  return { ok: false, code: 'FS_ERROR', message };
}

export const isDiskFull = (e: unknown): boolean => errnoOf(e) === 'ENOSPC' || errnoOf(e) === 'EDQUOT';

/** The engine's signal to rescan: code FS_ERROR, message containing 'changed on disk'. */
export const changedOnDisk = (p: string, why: string): PloppyError =>
  new PloppyError('FS_ERROR', `${p} changed on disk since it was scanned (${why}); not touched`);

export async function lstatOrNull(native: string): Promise<Stats | null> {
  return lstatSyncOrNull(native);
}

/**
 * lstat, synchronously: it answers from the inode cache in about a
 * microsecond, a twentieth of a trip through the thread pool, and the applier
 * and the watcher make one or two per file.
 */
export function lstatSyncOrNull(native: string): Stats | null {
  try {
    return lstatSync(native, { throwIfNoEntry: false }) ?? null;
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

/** Hashes a file for comparisons (the applier passes its pool or the in-thread hasher). */
export type HashFile = (native: string, sizeBytes: number) => Promise<FileDigest>;

/**
 * Why what is on disk (`st`) is not `expected` (null or a tombstone: nothing),
 * or null when it is. A file whose size matches but whose mtime does not is
 * hashed: only a content or mode change counts as a change.
 */
export async function differs(native: string, st: Stats | null, expected: FileVersion | null, hash: HashFile): Promise<string | null> {
  const exp = expected !== null && !expected.deleted ? expected : null;
  if (exp === null) return st === null ? null : `a ${typeOf(st) ?? 'special file'} is there, none was expected`;
  if (st === null) return `the ${exp.type} is gone`;
  const type = typeOf(st);
  if (type !== exp.type) return `it is a ${type ?? 'special file'}, a ${exp.type} was expected`;
  return matches(native, st, exp, hash);
}

/** Whether the entry at `native` (of the right type) holds `v`'s content; null when it does. */
export async function matches(native: string, st: Stats, v: FileVersion, hash: HashFile): Promise<string | null> {
  if (typeOf(st) !== v.type) return `it is not a ${v.type}`;
  if (v.type === 'directory') return null;
  if (v.type === 'symlink') return (await readlink(native)) === v.target ? null : 'its target differs';
  if (ownerBits(st.mode) !== v.mode) return 'its mode differs';
  if (st.size !== v.size) return 'its size differs';
  if (sameMtime(st.mtimeMs, v.mtimeMs)) return null;
  const digest = await hash(native, st.size);
  const same = digest.blocks.length === v.blocks.length && digest.blocks.every((h, i) => h === v.blocks[i]);
  return same ? null : 'its content differs';
}

/**
 * Whether `v` is already at `native`, judged without reading the file: type,
 * mode, size and mtime (a commit that happened before a crash left exactly this).
 */
export async function alreadyInPlace(native: string, st: Stats, v: FileVersion): Promise<boolean> {
  if (typeOf(st) !== v.type) return false;
  if (v.type === 'symlink') return (await readlink(native)) === v.target;
  if (v.type === 'directory') return ownerBits(st.mode) === v.mode;
  return ownerBits(st.mode) === v.mode && st.size === v.size && sameMtime(st.mtimeMs, v.mtimeMs);
}

/**
 * Remove a directory that should be empty. Stale temp files of ours inside do
 * not count; anything else fails with DIR_NOT_EMPTY, and nothing is removed.
 */
export async function removeEmptyDirectory(native: string, p: string): Promise<void> {
  try {
    await rmdir(native);
    return;
  } catch (e) {
    if (errnoOf(e) !== 'ENOTEMPTY' && errnoOf(e) !== 'EEXIST') throw e;
  }
  const names = await readdir(native);
  const others = names.filter((n) => !isApplierTempName(n));
  if (others.length > 0) {
    throw new PloppyError('DIR_NOT_EMPTY', `${p} is a directory that still holds ${others.length} entries (${others.slice(0, 3).join(', ')}); not removed`);
  }
  for (const n of names) await unlink(path.join(native, n));
  await rmdir(native);
}

/** Write all of `data` at `position` (a write may be short). */
/**
 * Writes up to this size go straight to the page cache from this thread: a
 * 256 KiB pwrite takes under 0.1 ms there, while through the thread pool each
 * write also waits for the event loop to come round, and the writes of one
 * file follow each other, so a busy loop held a transfer to a few hundred
 * blocks a second. (Early writeback keeps the dirty data of temp files small,
 * so these writes are not throttled.)
 */
export const syncWriteBytesMax = 1024 * 1024;

export async function writeFully(h: Pick<TempFile, 'fd' | 'write'>, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  if (data.length <= syncWriteBytesMax) {
    while (done < data.length) done += writeSync(h.fd, data, done, data.length - done, position + done);
    return;
  }
  while (done < data.length) {
    const { bytesWritten } = await h.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

/** Read exactly `length` bytes at `position`, or fewer at end of file. */
export async function readFully(h: FileHandle, length: number, position: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await h.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === length ? buffer : buffer.subarray(0, done);
}
