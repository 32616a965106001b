/**
 * The applier: carries out the engine's file-system operations (FsOp) on the
 * shared folder, and serves block reads for peers.
 *
 * Theory of operation
 * - Content is assembled in a temp file in the staging directory at the
 *   folder's root (`.ploppy-tmp-staging/.ploppy-tmp-<hash8>-<path12>-<basename>`,
 *   never synced, announced or watched), so the target's directory sees one
 *   event, the rename, instead of one per write (each wakes the watcher's
 *   listing of that directory). A target on another file system than the root
 *   (a mount point inside the folder) gets its temp file beside it instead,
 *   `.ploppy-tmp-<hash8>-<basename>`, since a rename cannot cross file systems.
 *   Each block is hashed before it is written: no block reaches disk unless
 *   its hash matches.
 * - commitFile checks the temp file against version.blocks: its size, and,
 *   unless this process itself hashed and wrote every block (OpenTemps
 *   remembers which), the hash of every block (after a restart, say). It
 *   sets mode and mtime, fsyncs the file, renames it into place and fsyncs
 *   the directory.
 *   Permission bits: the owner's come from the version; group and other get
 *   the owner's read and execute bits, never write (diskModeFor). Directories
 *   get their mode but keep their own mtime (it changes with every entry).
 * - Never overwrite blind: before replacing, removing or moving anything, what
 *   is on disk is compared with `expect` (null: nothing). Type, mode and size
 *   must match; a file whose mtime differs is hashed. On a mismatch nothing is
 *   touched and the result is FS_ERROR "... changed on disk ...": the engine
 *   rescans, then decides. An operation that finds its own result already in
 *   place (a restart after the rename, before the log heard of it) succeeds.
 * - Every path goes through SharedFolder.resolve (no escape, no symlinked
 *   parent); ignored and temp-named paths are refused with PATH_IGNORED.
 * - A full disk (ENOSPC) fails with DISK_FULL and removes the temp file; the
 *   target is untouched.
 * - Operations run one at a time, in call order, with one exception: an
 *   operation other than a block write or copy goes ahead of the queued block
 *   operations when none of them touches its paths (writes into it or below
 *   it, reads from it) and no earlier such operation is still waiting behind
 *   them. A receiver has thousands of blocks queued behind the network; a
 *   commit or a directory that waited behind all of them held back every file
 *   below it. (The engine itself commits a file only after its block writes
 *   reported back, and the driver starts block traffic before, everything
 *   else after, the log's fsync, so it never relied on that order.) Calls that
 *   arrive while a batch runs form the next batch (at most applyBatchOpsMax);
 *   a batch fsyncs each touched directory once, at the end, before it reports
 *   any result, and consecutive commits in it fsync their files concurrently.
 * - The WriteListener (the watcher) hears of every path the applier changes,
 *   before and after, with the entry left behind, so the applier's own writes
 *   are not reported back as local changes.
 */
import { chmod, lstat, lutimes, mkdir, open, readdir, readlink, rename, rm, rmdir, symlink, unlink, utimes } from 'node:fs/promises';
import { closeSync, constants, lstatSync, fchmodSync, fstatSync, futimesSync, openSync, readSync, renameSync } from 'node:fs';
import path from 'node:path';
import { AssertionError, assert } from '../core/assert.js';
import { blockLength } from '../core/blocks.js';
import { applyBatchOpsMax, blockSizeMaxBytes, hashInThreadBytesMax, hashOffThreadBytesMin, stagingDirName, tempFilesOpenMax } from '../core/constants.js';
import { blockBuffers, markOwnedMemory } from '../core/buffers.js';
import { PloppyError } from '../core/errors.js';
import type { ErrorCode } from '../core/errors.js';
import type { BlockHash } from '../core/ids.js';
import type { SyncPath } from '../core/path.js';
import type { EffectResult, FsOp } from '../engine/types.js';
import type { FileVersion } from '../events/version.js';
import {
  alreadyInPlace, changedOnDisk, Batch, differs, failureOf, isDiskFull, lstatOrNull, matches, OpenTemps,
  readFully, removeEmptyDirectory, TempFile, writeFully,
} from './applier-support.js';
import type { HashFile } from './applier-support.js';
import { diskModeFor, isApplierTempName, isTempName, ownerBits, stagedTempPath, tempNameFor } from './disk.js';
import type { DiskEntry } from './disk.js';
import { basenameOf, errnoOf, isNotFound, parentPath, SharedFolder } from './folder.js';
import type { BlockPool } from './block-pool.js';
import { hashFileAsync, hashOpenFile, rememberDigest, sha256Hex } from './hash-core.js';
import type { HashPool } from './hash-pool.js';
import type { IgnoreRules } from './ignore.js';

/** The operations the applier carries out (readBlock and rescan are the daemon's). */
export type WriteOp = Exclude<FsOp, { op: 'readBlock' } | { op: 'rescan' }>;

/** A block read for a peer: its verified bytes, or why not (the daemon then sends DONTHAVE). */
export type ReadBlockResult = { ok: true; data: Buffer } | { ok: false; code: ErrorCode; message: string };

/** Told about every path the applier is about to change and what it left there. */
export interface WriteListener {
  writeStarted(path: SyncPath): void;
  /** `entry`: what `path` holds now (null: nothing); undefined: unknown, the write failed midway. */
  writeFinished(path: SyncPath, entry: DiskEntry | null | undefined): void;
}

/** Optional collaborators of the applier. */
export interface ApplierOptions {
  readonly listener?: WriteListener;
  /** Paths these rules ignore are refused (PATH_IGNORED). */
  readonly ignore?: IgnoreRules;
  /** Worker threads for verifying files of hashInThreadBytesMax and more. */
  readonly pool?: HashPool;
  /** Worker threads that read and hash single blocks (serving peers, local copies). */
  readonly blocks?: BlockPool;
  /**
   * The folder is watched and every event reaches `entryChanged`: directories
   * found to be real (not symlinks) are then trusted until an event names
   * one of them (or the applier itself removes or moves a directory), not
   * only for one batch. A receiver of 20,000 files in 1,111 directories
   * otherwise lstat'ed every parent of every path at each write and commit.
   */
  readonly watched?: boolean;
}

interface Located {
  readonly native: string;
  readonly temp: string;
}

type CommitOp = Extract<WriteOp, { op: 'commitFile' }>;

interface PreparedCommit {
  readonly path: SyncPath;
  readonly native: string;
  readonly temp: string;
  readonly version: FileVersion;
  readonly handle: TempFile;
}

interface Queued {
  readonly op: WriteOp;
  readonly resolve: (r: EffectResult) => void;
  readonly reject: (e: unknown) => void;
}

/** What an operation left at each path it changed (null: nothing); a path not listed: unknown. */
type Left = Map<SyncPath, DiskEntry | null>;

const nothingLeft = (): Left => new Map();

/** The paths an operation may change (temp files aside: nobody watches those). */
function changedPaths(op: WriteOp): SyncPath[] {
  switch (op.op) {
    case 'writeBlock': case 'copyBlock': case 'keepBlock': return [];
    case 'commitFile': case 'makeDirectory': case 'makeSymlink': case 'remove': return [op.path];
    case 'move': return [op.from, op.to];
  }
}

const isPrepared = (x: PreparedCommit | EffectResult | undefined): x is PreparedCommit => x !== undefined && 'handle' in x;
const isDiskEntry = (x: DiskEntry | EffectResult): x is DiskEntry => 'ino' in x;

type BlockOp = Extract<WriteOp, { op: 'writeBlock' | 'copyBlock' | 'keepBlock' }>;
type CopyOp = Extract<WriteOp, { op: 'copyBlock' }>;

/** Directories whose device is remembered, at most (then forgotten all at once). */
const directoryDevicesMax = 65_536;

/** How many of one file's consecutive local copies run at once. */
const copyAheadBlocks = 8;

const isBlockOp = (op: WriteOp): op is BlockOp => op.op === 'writeBlock' || op.op === 'copyBlock' || op.op === 'keepBlock';

/** The block operations starting at `i` (consecutive writeBlock, copyBlock and keepBlock operations). */
function blockGroupAt(ops: readonly WriteOp[], i: number): BlockOp[] {
  const group: BlockOp[] = [];
  for (let j = i; j < ops.length; j++) {
    const op = ops[j] as WriteOp;
    if (!isBlockOp(op)) break;
    group.push(op);
  }
  return group;
}

/** The commits starting at `i` that can share one fsync phase: consecutive, distinct paths. */
function commitGroupAt(ops: readonly WriteOp[], i: number): CommitOp[] {
  const group: CommitOp[] = [];
  const paths = new Set<string>();
  for (let j = i; j < ops.length; j++) {
    const op = ops[j] as WriteOp;
    if (op.op !== 'commitFile' || paths.has(op.path)) break;
    paths.add(op.path);
    group.push(op);
  }
  return group;
}

/**
 * A small range read synchronously: three system calls from the page cache
 * cost less than one trip through the thread pool or to a worker (the small
 * files of a folder being served were just read by the scan).
 */
function readSmallRange(native: string, offset: number, length: number, headroom: number): Buffer {
  const whole = Buffer.allocUnsafeSlow(headroom + length);
  const fd = openSync(native, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    let got = 0;
    while (got < length) {
      const n = readSync(fd, whole, headroom + got, length - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    const data = whole.subarray(headroom, headroom + got);
    markOwnedMemory(data);
    return data;
  } finally {
    closeSync(fd);
  }
}

/** Carries out FsOps on one shared folder; see the module comment. */
export class Applier {
  private readonly temps = new OpenTemps(tempFilesOpenMax);
  /** Where the version being written goes (see locateForWrite). */
  private readonly writing = new WeakMap<FileVersion, Located & { readonly path: SyncPath }>();
  private readonly hashFile: HashFile;
  /** Commits, directories, symlinks, removals and moves that may run before the queued block writes. */
  private readonly queue: Queued[] = [];
  /** Block writes and copies, and whatever must stay behind them, in call order (see apply). */
  private readonly blockQueue: Queued[] = [];
  /** Paths the queued block operations write to or read from, and their parent directories: how many of each. */
  private readonly blockPaths = new Map<string, number>();
  /** Directories found to be real, kept across batches when the folder is watched (ApplierOptions.watched). */
  private readonly verifiedDirectories = new Set<string>();
  /** The device of directories looked at (onRootDevice). */
  private readonly devices = new Map<string, number>();
  /** Operations other than block writes in blockQueue (while any is, every later one joins it). */
  private orderedOthers = 0;
  private draining = false;

  private constructor(private readonly folder: SharedFolder, private readonly rootDevice: number, private readonly options: ApplierOptions) {
    const pool = options.pool;
    this.hashFile = (native, size) => (pool !== undefined && size >= hashInThreadBytesMax ? pool.hash(native, size) : hashFileAsync(native));
  }

  /** An applier for the shared folder `dir` (which must exist). */
  static async open(dir: string, options: ApplierOptions = {}): Promise<Applier> {
    const folder = await SharedFolder.open(dir);
    return new Applier(folder, (await lstat(folder.root)).dev, options);
  }

  /**
   * A watch event named `native`: if it is a directory trusted to be real, it
   * may have been removed, moved or replaced (by a symlink, say), so none is
   * trusted any more. Events naming files (the applier's own renames) change
   * nothing.
   */
  entryChanged(native: string): void {
    if (this.verifiedDirectories.has(native)) this.verifiedDirectories.clear();
  }

  /** Trust no directory checked so far (the watcher lost events, or restarted). */
  forgetDirectories(): void {
    this.verifiedDirectories.clear();
  }

  /** The shared folder's real path. */
  get root(): string {
    return this.folder.root;
  }

  /**
   * Carry out one operation. Calls are executed one at a time in call order;
   * calls made while a batch runs form the next batch (so a driver that fires
   * operations without awaiting them gets batching for free).
   */
  apply(op: WriteOp): Promise<EffectResult> {
    return new Promise((resolve, reject) => {
      const queued = { op, resolve, reject };
      if (isBlockOp(op)) {
        this.countBlockPaths(op, 1);
        this.blockQueue.push(queued);
      } else if (this.orderedOthers > 0 || changedPaths(op).some((p) => this.blockPaths.has(p))) {
        this.orderedOthers++;
        this.blockQueue.push(queued);
      } else {
        this.queue.push(queued);
      }
      void this.drain();
    });
  }

  /**
   * The next batch: the operations that may go first, else the block queue's
   * head (up to applyBatchOpsMax either way).
   */
  private nextBatch(): Queued[] {
    if (this.queue.length > 0) return this.queue.splice(0, applyBatchOpsMax);
    const batch = this.blockQueue.splice(0, applyBatchOpsMax);
    for (const { op } of batch) {
      if (isBlockOp(op)) this.countBlockPaths(op, -1);
      else this.orderedOthers--;
    }
    return batch;
  }

  /** A block operation's target and source paths with their parents, counted in or out of blockPaths. */
  private countBlockPaths(op: BlockOp, delta: 1 | -1): void {
    const paths = op.op === 'copyBlock' ? [op.path, op.fromPath] : [op.path];
    for (const p of paths) {
      for (let q: string = p; q !== ''; q = parentPath(q)) {
        const n = (this.blockPaths.get(q) ?? 0) + delta;
        if (n > 0) this.blockPaths.set(q, n);
        else this.blockPaths.delete(q);
      }
    }
  }

  /** Several operations, in order, in as few batches as possible. */
  applyAll(ops: readonly WriteOp[]): Promise<EffectResult[]> {
    return Promise.all(ops.map((op) => this.apply(op)));
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queue.length > 0 || this.blockQueue.length > 0) {
        const batch = this.nextBatch();
        try {
          const results = await this.runBatch(batch.map((b) => b.op));
          batch.forEach((b, i) => b.resolve(results[i] as EffectResult));
        } catch (e) {
          for (const b of batch) b.reject(e); // an assertion: a bug, reported to every caller
        }
      }
    } finally {
      this.draining = false;
    }
  }

  /**
   * Run a batch in order; consecutive commits to distinct paths are one group
   * (their fsyncs overlap). Results come back after the touched directories
   * are fsynced.
   */
  private async runBatch(ops: readonly WriteOp[]): Promise<EffectResult[]> {
    const batch = new Batch(this.options.watched === true ? this.verifiedDirectories : undefined);
    const results: EffectResult[] = [];
    for (let i = 0; i < ops.length;) {
      const commits = commitGroupAt(ops, i);
      if (commits.length > 0) {
        results.push(...(await this.commitFiles(commits, batch, i)));
        i += commits.length;
        continue;
      }
      const writes = blockGroupAt(ops, i);
      if (writes.length > 0) {
        results.push(...(await this.writeConcurrently(writes, batch, i)));
        i += writes.length;
        continue;
      }
      results.push(await this.runOne(ops[i] as WriteOp, batch, i));
      i++;
    }
    const syncFailures = await batch.flush();
    return results.map((r, i) => syncFailures.get(i) ?? r);
  }

  /**
   * Close the temp files held open (their contents stay for a later commit),
   * and remove the staging directory when nothing is left in it, so a
   * stopped peer's folder holds only the user's files.
   */
  async close(): Promise<void> {
    await this.temps.closeAll();
    await rmdir(path.join(this.folder.root, stagingDirName)).catch(() => undefined); // absent, or holding transfers to resume
  }

  /** One operation, with the listener told before and after about every path it may change. */
  private async runOne(op: WriteOp, batch: Batch, i: number): Promise<EffectResult> {
    const paths = changedPaths(op);
    for (const p of paths) this.options.listener?.writeStarted(p);
    let left = nothingLeft();
    try {
      left = await this.run(op, batch, i);
      return { ok: true };
    } catch (e) {
      return failureOf(e);
    } finally {
      for (const p of paths) this.options.listener?.writeFinished(p, left.get(p));
    }
  }

  /**
   * Block writes to different files run side by side; those to one file stay
   * in order, except that up to copyAheadBlocks of a file's consecutive local
   * copies run at once: each is a read, a hash and a write (on a block worker
   * when there is a pool), and a file rebuilt from its old version (an edit
   * in the middle of a large file) would otherwise wait for each in turn.
   */
  private async writeConcurrently(group: readonly BlockOp[], batch: Batch, first: number): Promise<EffectResult[]> {
    const results: EffectResult[] = new Array<EffectResult>(group.length);
    const chains = new Map<string, number[]>();
    group.forEach((op, j) => {
      const chain = chains.get(op.path);
      if (chain === undefined) chains.set(op.path, [j]);
      else chain.push(j);
    });
    await Promise.all([...chains.values()].map(async (chain) => {
      const copying = new Set<Promise<void>>();
      for (const j of chain) {
        const op = group[j] as BlockOp;
        if (op.op !== 'copyBlock') await Promise.all(copying);
        const done: Promise<void> = this.runOne(op, batch, first + j).then((r) => { results[j] = r; });
        if (op.op !== 'copyBlock') {
          await done;
          continue;
        }
        const tracked = done.finally(() => copying.delete(tracked));
        copying.add(tracked);
        if (copying.size >= copyAheadBlocks) await Promise.race(copying);
      }
      await Promise.all(copying);
    }));
    return results;
  }

  private async run(op: WriteOp, batch: Batch, i: number): Promise<Left> {
    switch (op.op) {
      case 'writeBlock':
        await this.writeBlocks(op.path, op.version, op.indices, op.hash, op.data, batch, i);
        return nothingLeft();
      case 'copyBlock':
        await this.copyBlocks(op, batch, i);
        return nothingLeft();
      case 'keepBlock':
        await this.keepBlocks(op, batch);
        return nothingLeft();
      case 'commitFile':
        throw new AssertionError('commits run in groups (commitGroupAt)');
      case 'makeDirectory':
        return this.makeDirectory(op.path, op.version, op.expect, batch, i);
      case 'makeSymlink':
        return this.makeSymlink(op.path, op.version, op.expect, batch, i);
      case 'remove':
        return this.remove(op.path, op.expect, batch, i);
      case 'move':
        return this.move(op.from, op.to, op.version, op.expect, batch, i);
    }
  }

  // ---------------------------------------------------------------- paths

  /** The native path of `p`, refusing escapes, ignored paths and temp names. */
  private async resolve(p: SyncPath, isDirectory: boolean, batch?: Batch): Promise<string> {
    const native = await this.folder.resolve(p, batch?.verifiedDirectories);
    if (isTempName(basenameOf(p)) || this.options.ignore?.ignores(p, isDirectory) === true) {
      throw new PloppyError('PATH_IGNORED', `${p} is ignored here (.ploppyignore or a temp-file name)`);
    }
    return native;
  }

  private async locate(p: SyncPath, version: FileVersion, batch: Batch): Promise<Located> {
    const native = await this.resolve(p, version.type === 'directory', batch);
    const temp = this.onRootDevice(native) ? stagedTempPath(this.folder.root, p, version) : path.join(path.dirname(native), tempNameFor(basenameOf(p), version));
    return { native, temp };
  }

  /**
   * Whether `native` would sit on the root's file system (its nearest existing
   * directory does): then a rename from the staging directory reaches it.
   * Directories' devices are remembered (a rename that finds one changed
   * clears them, see renameIntoPlace).
   */
  private onRootDevice(native: string): boolean {
    for (let dir = path.dirname(native); dir.length >= this.folder.root.length; dir = path.dirname(dir)) {
      const known = this.devices.get(dir);
      if (known !== undefined) return known === this.rootDevice;
      const st = lstatSync(dir, { throwIfNoEntry: false });
      if (st === undefined) continue;
      if (this.devices.size >= directoryDevicesMax) this.devices.clear();
      this.devices.set(dir, st.dev);
      return st.dev === this.rootDevice;
    }
    return true;
  }

  /**
   * Where the blocks of (p, version) go. The first block resolves the path;
   * later ones write through the temp file's open handle, which stays valid
   * whatever happens to the path, so they skip resolving it again.
   */
  private async locateForWrite(p: SyncPath, version: FileVersion, batch: Batch): Promise<Located> {
    const known = this.writing.get(version);
    if (known !== undefined && known.path === p && this.temps.isOpen(known.temp)) return known;
    const located = await this.locate(p, version, batch);
    this.writing.set(version, { ...located, path: p });
    return located;
  }

  /**
   * Run `create` (which makes `temp`, to become `native`); if it fails for
   * want of a directory, make the target's parents and the temp file's (the
   * staging directory) and run it again.
   */
  private async withParents<T>(native: string, temp: string, batch: Batch, i: number, create: () => Promise<T>): Promise<T> {
    try {
      return await create();
    } catch (e) {
      if (errnoOf(e) !== 'ENOENT') throw e;
      await this.ensureParent(native, batch, i);
      await this.ensureParent(temp, batch, i);
      return create();
    }
  }

  /** Create missing parent directories (0755); each new entry's directory is fsynced with the batch. */
  private async ensureParent(native: string, batch: Batch, i: number): Promise<void> {
    const parent = path.dirname(native);
    const first = await mkdir(parent, { recursive: true, mode: 0o755 });
    if (first === undefined) return;
    for (let d = parent; d.length >= first.length; d = path.dirname(d)) batch.fsyncLater(path.dirname(d), i);
  }

  // ---------------------------------------------------------------- blocks

  private async writeBlocks(
    p: SyncPath, version: FileVersion, indices: readonly number[], hash: BlockHash, data: Uint8Array,
    batch: Batch, i: number,
  ): Promise<void> {
    if (sha256Hex(data) !== hash) throw new PloppyError('BLOCK_HASH_MISMATCH', `block ${hash.slice(0, 12)} for ${p}: the bytes do not match their hash`);
    this.checkIndices(p, version, indices, hash, data.length);
    await this.withTemp(p, version, batch, i, async (handle, temp) => {
      for (const index of indices) await writeFully(handle, data, index * version.blockSizeBytes);
      this.temps.written(temp, version.blocks, indices, data.length * indices.length);
    });
  }

  /** The block `hash` of `length` bytes is at each of `indices` in `version` (the engine's promise). */
  private checkIndices(p: SyncPath, version: FileVersion, indices: readonly number[], hash: BlockHash, length: number): void {
    assert(version.type === 'file' && !version.deleted, 'blocks belong to a live file version');
    for (const index of indices) {
      assert(version.blocks[index] === hash, `block ${index} of ${p} is not ${hash}`);
      assert(blockLength(version.size, version.blockSizeBytes, index) === length, `block ${index} of ${p} has the wrong length`);
    }
  }

  /**
   * Write into the temp file of (p, version), created if needed, held open
   * while `write` runs. A full disk removes the temp file (DISK_FULL); the
   * target itself is never touched here.
   */
  private async withTemp(p: SyncPath, version: FileVersion, batch: Batch, i: number, write: (handle: TempFile, temp: string) => Promise<void>): Promise<void> {
    const { temp, native } = await this.locateForWrite(p, version, batch);
    try {
      const handle = await this.withParents(native, temp, batch, i, () => this.temps.acquire(temp));
      try {
        await write(handle, temp);
      } finally {
        this.temps.release(temp);
      }
    } catch (e) {
      if (!isDiskFull(e)) throw e;
      await this.temps.discard(temp);
      throw new PloppyError('DISK_FULL', `disk full writing ${p}; its temporary file was removed, the file itself is untouched`);
    }
  }

  /**
   * A local copy: the source block is read and hashed, and written to the
   * temp file only when it still has the expected hash. With a block pool the
   * worker that reads and hashes it also writes it (BlockPool.copy), through
   * the temp file's descriptor, which is held (acquired) until it is done.
   */
  private async copyBlocks(op: CopyOp, batch: Batch, i: number): Promise<void> {
    assert(op.length <= blockSizeMaxBytes, 'a block is at most blockSizeMaxBytes');
    const source = await this.resolve(op.fromPath, false, batch);
    const blocks = this.options.blocks;
    const stale = (): PloppyError => changedOnDisk(op.fromPath, `block ${op.hash.slice(0, 12)} is no longer at offset ${op.fromOffset}`);
    const gone = (e: unknown): never => {
      throw isNotFound(e) ? changedOnDisk(op.fromPath, 'it is gone') : e;
    };
    if (blocks === undefined || op.length < hashOffThreadBytesMin) {
      const data = await this.readRange(source, op.fromOffset, op.length, 0).catch(gone);
      if (data.length !== op.length || sha256Hex(data) !== op.hash) throw stale();
      await this.writeBlocks(op.path, op.version, op.indices, op.hash, data, batch, i);
      if (data.length >= hashOffThreadBytesMin) blockBuffers.give(data.buffer); // written: the bytes are no one's now
      return;
    }
    this.checkIndices(op.path, op.version, op.indices, op.hash, op.length);
    await this.withTemp(op.path, op.version, batch, i, async (handle, temp) => {
      const positions = op.indices.map((index) => index * op.version.blockSizeBytes);
      const { data, digest } = await blocks.copy(source, op.fromOffset, op.length, { fd: handle.fd, positions, hash: op.hash }).catch(gone);
      const length = data.length;
      blockBuffers.give(data.buffer);
      if (length !== op.length || digest !== op.hash) throw stale(); // and nothing was written
      this.temps.written(temp, op.version.blocks, op.indices, length * op.indices.length);
    });
  }

  /**
   * A block an interrupted transfer wrote before a restart (FsOp keepBlock):
   * read and hashed where it sits in the temp file, which is neither created
   * nor changed. Anything else (no temp file, a hole, other bytes) fails, and
   * the engine fetches the block instead. A block kept counts as hashed and
   * written by this process (the commit does not hash it again).
   */
  private async keepBlocks(op: Extract<WriteOp, { op: 'keepBlock' }>, batch: Batch): Promise<void> {
    const { temp } = await this.locate(op.path, op.version, batch);
    for (const index of op.indices) {
      assert(op.version.blocks[index] === op.hash, `block ${index} of ${op.path} is not ${op.hash}`);
      const length = blockLength(op.version.size, op.version.blockSizeBytes, index);
      let data: Buffer;
      try {
        data = await this.readRange(temp, index * op.version.blockSizeBytes, length, 0);
      } catch (e) {
        if (isNotFound(e)) throw new PloppyError('FS_ERROR', `${op.path}: no temporary file from an earlier run`);
        throw e;
      }
      const kept = data.length === length && sha256Hex(data) === op.hash;
      if (data.length >= hashOffThreadBytesMin) blockBuffers.give(data.buffer);
      if (!kept) throw new PloppyError('FS_ERROR', `${op.path}: block ${index} is not in the temporary file`);
    }
    this.temps.written(temp, op.version.blocks, op.indices, 0); // hashed where they sit: as good as written now
  }

  /**
   * The bytes at [offset, offset + length) of a file already resolved. With a
   * block pool they are read and hashed on a worker (the digest is remembered
   * for the caller's check); `headroom` bytes of scratch memory precede them.
   */
  private async readRange(native: string, offset: number, length: number, headroom: number): Promise<Buffer> {
    const blocks = this.options.blocks;
    if (length < hashOffThreadBytesMin) return readSmallRange(native, offset, length, headroom);
    if (blocks !== undefined) {
      const { data, digest } = await blocks.read(native, offset, length, headroom);
      rememberDigest(data, digest);
      return data;
    }
    const handle = await open(native, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      return await readFully(handle, length, offset);
    } finally {
      await handle.close();
    }
  }

  /**
   * Read a block for a peer; the bytes are returned only when they still match
   * `hash`. `headroom`: scratch bytes wanted in front of them (for a frame header).
   */
  async readBlock(p: SyncPath, offset: number, length: number, hash: BlockHash, headroom = 0): Promise<ReadBlockResult> {
    try {
      assert(Number.isSafeInteger(offset) && offset >= 0 && length > 0 && length <= blockSizeMaxBytes, 'block range');
      const native = await this.resolve(p, false);
      const data = await this.readRange(native, offset, length, headroom);
      if (data.length !== length || sha256Hex(data) !== hash) throw changedOnDisk(p, `block ${hash.slice(0, 12)} is no longer at offset ${offset}`);
      return { ok: true, data };
    } catch (e) {
      const failure = failureOf(isNotFound(e) ? changedOnDisk(p, 'it is gone') : e);
      assert(!failure.ok);
      return failure;
    }
  }

  // ---------------------------------------------------------------- files

  /**
   * Commit files in three phases: prepare each (verify the temp file, check
   * the target against `expect`, set mode and mtime) concurrently; fsync them
   * all at once (ext4 folds concurrent fsyncs into few journal commits); then
   * rename each into place, in order.
   */
  private async commitFiles(group: readonly CommitOp[], batch: Batch, first: number): Promise<EffectResult[]> {
    for (const op of group) this.options.listener?.writeStarted(op.path);
    const prepared = await Promise.all(group.map((op, j) => this.prepareCommit(op, batch, first + j).catch(failureOf)));
    const outcomes = await Promise.all(prepared.map((pc) => (isPrepared(pc) ? this.syncPrepared(pc).catch(failureOf) : pc)));
    const results: EffectResult[] = [];
    for (let j = 0; j < group.length; j++) {
      const pc = prepared[j];
      const outcome = outcomes[j];
      assert(pc !== undefined && outcome !== undefined, 'one outcome per commit');
      let left: DiskEntry | undefined;
      try {
        if (!isDiskEntry(outcome)) {
          results.push(outcome);
          continue;
        }
        assert(isPrepared(pc), 'a synced commit was prepared');
        await this.renameIntoPlace(pc.temp, pc.native, batch, first + j);
        left = outcome;
        batch.fsyncLater(path.dirname(pc.native), first + j);
        results.push({ ok: true });
      } catch (e) {
        results.push(failureOf(e));
      } finally {
        this.options.listener?.writeFinished((group[j] as CommitOp).path, left);
      }
    }
    return results;
  }

  /**
   * Rename a finished temp file to its target, making the target's parents
   * first if they are missing (a temp file in the staging directory did not
   * need them; they appear with the file).
   */
  private async renameIntoPlace(temp: string, native: string, batch: Batch, i: number): Promise<void> {
    try {
      renameSync(temp, native); // a metadata operation: cheaper here than through the thread pool
    } catch (e) {
      if (errnoOf(e) === 'EXDEV') this.devices.clear(); // mounted since: the next attempt assembles beside the target
      if (errnoOf(e) !== 'ENOENT') throw e;
      await this.ensureParent(native, batch, i);
      renameSync(temp, native);
    }
  }

  /** Everything but the fsync and the rename; an open handle on the finished temp file, or a result. */
  private async prepareCommit(op: CommitOp, batch: Batch, i: number): Promise<PreparedCommit | EffectResult> {
    const { path: p, version, expect } = op;
    assert(version.type === 'file' && !version.deleted, 'commitFile takes a live file version');
    const { native, temp } = await this.locate(p, version, batch);
    const current = await lstatOrNull(native);
    if (current !== null && (await alreadyInPlace(native, current, version))) {
      await this.temps.discard(temp);
      return { ok: true };
    }
    const { handle, verifiedBlocks } = await this.openTempForCommit(p, native, temp, version, batch, i);
    try {
      await this.verifyTemp(p, temp, handle, version, verifiedBlocks);
      const why = await differs(native, current, expect, this.hashFile);
      if (why !== null) throw changedOnDisk(p, why);
      if (current?.isDirectory() === true) {
        await removeEmptyDirectory(native, p);
        batch.forgetVerified();
      }
      // Inode updates, no disk wait: made from this thread (the fsync that follows makes them durable).
      fchmodSync(handle.fd, diskModeFor(version.mode));
      futimesSync(handle.fd, new Date(), version.mtimeMs / 1000);
    } catch (e) {
      await handle.close();
      throw e;
    }
    return { path: p, native, temp, version, handle };
  }

  /**
   * The handle writeBlock left open, or the temp file opened again (created,
   * for an empty file), with how many of its blocks this process hashed and
   * wrote.
   */
  private async openTempForCommit(
    p: SyncPath, native: string, temp: string, version: FileVersion, batch: Batch, i: number,
  ): Promise<{ readonly handle: TempFile; readonly verifiedBlocks: number }> {
    const verifiedBlocks = this.temps.takeVerified(temp, version.blocks);
    const cached = await this.temps.take(temp);
    if (cached !== undefined) return { handle: cached, verifiedBlocks };
    if (version.size === 0) {
      const flags = constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;
      return { handle: await this.withParents(native, temp, batch, i, async () => TempFile.open(temp, flags, 0o600)), verifiedBlocks: 0 };
    }
    try {
      return { handle: TempFile.open(temp, constants.O_RDWR | constants.O_NOFOLLOW), verifiedBlocks };
    } catch (e) {
      if (isNotFound(e)) throw new PloppyError('FS_ERROR', `${p}: no temporary file to commit (no blocks were written)`);
      throw e;
    }
  }

  /** Fsync a prepared temp file; what it will be once renamed. A full disk removes it. */
  private async syncPrepared(pc: PreparedCommit): Promise<DiskEntry> {
    try {
      await pc.handle.sync();
      const st = fstatSync(pc.handle.fd);
      const v = pc.version;
      return { path: pc.path, type: 'file', mode: v.mode, size: st.size, mtimeMs: st.mtimeMs, blockSizeBytes: v.blockSizeBytes, blocks: v.blocks, ino: st.ino };
    } catch (e) {
      if (!isDiskFull(e)) throw e;
      await rm(pc.temp, { force: true });
      throw new PloppyError('DISK_FULL', `disk full committing ${pc.path}; its temporary file was removed, the file itself is untouched`);
    } finally {
      await pc.handle.close();
    }
  }

  /**
   * Every block of the temp file must hash to version.blocks (big files on the
   * pool, small ones through `handle`). When this process wrote every block,
   * each was hashed just before it was written (writeBlocks, copyBlocks), so
   * only the size is checked (a longer leftover is hashed, and emptied); a
   * temp file holding a block this process did not write (one kept from an
   * earlier run) is read and hashed here whole, as every one used to be.
   */
  private async verifyTemp(p: SyncPath, temp: string, handle: TempFile, version: FileVersion, verifiedBlocks: number): Promise<void> {
    if (verifiedBlocks === version.blocks.length && fstatSync(handle.fd).size === version.size) return;
    const pool = this.options.pool;
    const { size, blocks } = pool !== undefined && version.size >= hashInThreadBytesMax ? await pool.hash(temp, version.size) : await hashOpenFile(handle, version.blockSizeBytes, version.size);
    if (size > version.size) {
      await handle.truncate(0); // not ours to salvage: start the file over
      throw new PloppyError('BLOCK_HASH_MISMATCH', `${p}: the temporary file was longer than the file; emptied`);
    }
    const bad = version.blocks.filter((h, j) => blocks[j] !== h).length;
    if (bad > 0) throw new PloppyError('BLOCK_HASH_MISMATCH', `${p}: ${bad} of ${version.blocks.length} blocks do not match; the temporary file is kept`);
  }

  // ---------------------------------------------------------------- directories, symlinks, removal

  private async makeDirectory(p: SyncPath, version: FileVersion, expect: FileVersion | null, batch: Batch, i: number): Promise<Left> {
    assert(version.type === 'directory' && !version.deleted, 'makeDirectory takes a live directory version');
    const native = await this.resolve(p, true, batch);
    const current = await lstatOrNull(native);
    const left = (st: { ino: number; mtimeMs: number }): Left =>
      new Map([[p, { path: p, type: 'directory', mode: version.mode, size: 0, mtimeMs: st.mtimeMs, blockSizeBytes: version.blockSizeBytes, blocks: [], ino: st.ino }]]);
    if (current?.isDirectory() === true) {
      if (ownerBits(current.mode) === version.mode) return nothingLeft();
      await chmod(native, diskModeFor(version.mode));
      return left(current);
    }
    if (current !== null) {
      const why = await differs(native, current, expect, this.hashFile);
      if (why !== null) throw changedOnDisk(p, why);
      await unlink(native);
    }
    await this.ensureParent(native, batch, i);
    await mkdir(native, { mode: 0o700 });
    await chmod(native, diskModeFor(version.mode));
    const st = await lstatOrNull(native);
    assert(st !== null, 'the directory just made exists');
    batch.fsyncLater(path.dirname(native), i);
    return left(st);
  }

  private async makeSymlink(p: SyncPath, version: FileVersion, expect: FileVersion | null, batch: Batch, i: number): Promise<Left> {
    assert(version.type === 'symlink' && !version.deleted && typeof version.target === 'string', 'makeSymlink takes a live symlink version with a target');
    const target = version.target;
    const { native, temp } = await this.locate(p, version, batch);
    const current = await lstatOrNull(native);
    if (current?.isSymbolicLink() === true && (await readlink(native)) === target) return nothingLeft();
    const why = await differs(native, current, expect, this.hashFile);
    if (why !== null) throw changedOnDisk(p, why);
    if (current?.isDirectory() === true) {
      await removeEmptyDirectory(native, p);
      batch.forgetVerified();
    }
    await this.ensureParent(native, batch, i);
    await this.ensureParent(temp, batch, i);
    await rm(temp, { force: true });
    await symlink(target, temp);
    await lutimes(temp, new Date(), version.mtimeMs / 1000);
    const st = await lstatOrNull(temp);
    assert(st !== null, 'the symlink just made exists');
    const entry: DiskEntry = { path: p, type: 'symlink', mode: ownerBits(st.mode), size: 0, mtimeMs: st.mtimeMs, blockSizeBytes: version.blockSizeBytes, blocks: [], target, ino: st.ino };
    await rename(temp, native);
    batch.fsyncLater(path.dirname(native), i);
    return new Map([[p, entry]]);
  }

  private async remove(p: SyncPath, expect: FileVersion | null, batch: Batch, i: number): Promise<Left> {
    const native = await this.resolve(p, expect?.type === 'directory', batch);
    const current = await lstatOrNull(native);
    if (current === null) return new Map([[p, null]]); // already gone
    const why = await differs(native, current, expect, this.hashFile);
    if (why !== null) throw changedOnDisk(p, why);
    if (current.isDirectory()) {
      await removeEmptyDirectory(native, p);
      batch.forgetVerified();
    } else {
      await unlink(native);
    }
    batch.fsyncLater(path.dirname(native), i);
    return new Map([[p, null]]);
  }

  /**
   * Move what is at `from` (it must match `expect`) to `to` (where nothing may
   * be), giving it `version`'s mode and mtime. Done already (from gone, `to`
   * holding `version`) counts as success: a moved directory takes its children.
   */
  private async move(from: SyncPath, to: SyncPath, version: FileVersion, expect: FileVersion | null, batch: Batch, i: number): Promise<Left> {
    assert(!version.deleted, 'move takes the live version that ends up at `to`');
    const isDirectory = version.type === 'directory';
    const fromNative = await this.resolve(from, isDirectory, batch);
    const toNative = await this.resolve(to, isDirectory, batch);
    const [fromSt, toSt] = await Promise.all([lstatOrNull(fromNative), lstatOrNull(toNative)]);
    if (fromSt === null) {
      if (toSt !== null && (await matches(toNative, toSt, version, this.hashFile)) === null) return nothingLeft();
      throw changedOnDisk(from, 'it is gone');
    }
    const why = await differs(fromNative, fromSt, expect, this.hashFile);
    if (why !== null) throw changedOnDisk(from, why);
    if (toSt !== null) throw changedOnDisk(to, 'something is already there');
    await this.ensureParent(toNative, batch, i);
    if (version.type !== 'symlink' && ownerBits(fromSt.mode) !== version.mode) await chmod(fromNative, diskModeFor(version.mode));
    if (version.type === 'file') await utimes(fromNative, new Date(), version.mtimeMs / 1000);
    const st = await lstatOrNull(fromNative);
    assert(st !== null, 'the entry being moved exists');
    const target = version.type === 'symlink' ? await readlink(fromNative) : undefined;
    const base = { path: to, type: version.type, mode: ownerBits(st.mode), size: version.type === 'file' ? st.size : 0, mtimeMs: st.mtimeMs, blockSizeBytes: version.blockSizeBytes, blocks: version.blocks, ino: st.ino };
    const entry: DiskEntry = target === undefined ? base : { ...base, target };
    await rename(fromNative, toNative);
    if (isDirectory) batch.forgetVerified();
    batch.fsyncLater(path.dirname(fromNative), i);
    batch.fsyncLater(path.dirname(toNative), i);
    return new Map<SyncPath, DiskEntry | null>([[from, null], [to, entry]]);
  }

  // ---------------------------------------------------------------- housekeeping

  /**
   * Remove the applier's temp files left by an earlier run (walks the folder,
   * never through symlinks). `keep` spares the temp files of transfers the
   * caller means to resume. Returns how many were removed.
   */
  async removeStaleTempFiles(keep: (native: string) => boolean = () => false): Promise<number> {
    await this.temps.closeAll();
    let removed = 0;
    const visit = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        if (isNotFound(e)) return;
        throw e;
      }
      for (const entry of entries) {
        const native = path.join(dir, entry.name);
        if (isApplierTempName(entry.name) && !entry.isDirectory()) {
          if (keep(native)) continue;
          await unlink(native).catch((e: unknown) => { if (!isNotFound(e)) throw e; });
          removed++;
        } else if (entry.isDirectory()) {
          await visit(native);
        }
      }
    };
    await visit(this.folder.root);
    return removed;
  }
}
