/**
 * The simulated file-system driver: executes the engine's FsOps against a
 * SimDisk the way the daemon's driver does against a real folder, and checks
 * the integrity invariant (DESIGN.md 8) on the way.
 *
 * Theory of operation
 * - Blocks go into a temporary file per (path, version); `commitFile` verifies
 *   every block against the version's hashes, then "fsyncs and renames" the
 *   file into place. Temporary files are volatile: a crash loses them.
 * - Every op that replaces or removes something carries `expect`, the entry
 *   the engine believes is on disk. When the disk says otherwise (the user
 *   changed it after the last scan) the driver refuses with FS_ERROR
 *   'changed on disk' and rescans that path instead of overwriting blind.
 * - Integrity is checked where it can be broken: a block the engine hands us
 *   as verified must hash to what it claims and to what the version says at
 *   that index; every path must be a valid SyncPath (nothing escapes the
 *   folder). Breaches are reported as invariant violations, and the op is
 *   still refused or performed exactly as a real driver would, so a planted
 *   bug shows up both here and in what it does to the trees.
 */
import { blockLength } from '../core/blocks.js';
import type { ErrorCode } from '../core/errors.js';
import type { BlockHash, PeerId } from '../core/ids.js';
import { pathProblem } from '../core/path.js';
import type { Hasher, IdSource } from '../core/ports.js';
import type { EffectResult, FsOp } from '../engine/types.js';
import type { WireMessage } from '../events/messages.js';
import type { FileVersion } from '../events/version.js';
import type { DiskEntry, SimDisk } from './disk.js';

export interface DriverOutcome {
  readonly result: EffectResult;
  /** Paths to rescan and report as local changes ('' for everything). */
  readonly rescan: readonly string[];
  /** A reply to a peer (readBlock's HEREIS or DONTHAVE). */
  readonly reply: { readonly to: PeerId; readonly msg: WireMessage } | null;
  /** Parent directories the op created (mkdir -p): the watcher reports them like any new directory. */
  readonly created: readonly string[];
}

export type IntegrityReport = (message: string) => void;

interface TempFile {
  readonly data: Uint8Array;
  readonly written: Set<number>;
}

const ok: EffectResult = { ok: true };
const fail = (code: ErrorCode, message: string, rescan: readonly string[] = []): DriverOutcome => ({
  result: { ok: false, code, message },
  rescan,
  reply: null,
  created: [],
});
const done = (rescan: readonly string[] = []): DriverOutcome => ({ result: ok, rescan, reply: null, created: [] });
/** The applier's wording; the path is rescanned so the engine learns what is there. */
const changed = (path: string, why: string): DriverOutcome => fail('FS_ERROR', `${path} changed on disk since it was scanned (${why}); not touched`, [path]);

/** Like the applier's temp names: one temp file per (path, content), whatever the version vector. */
const tempKey = (path: string, v: FileVersion): string => `${path}\u0000${v.size}\u0000${v.blockSizeBytes}\u0000${v.blocks.join(',')}`;

export class SimDriver {
  private temps = new Map<string, TempFile>();
  /** Directories created by the op being executed. */
  private created: string[] = [];
  private readonly pathProblems = new Map<string, string | null>();

  constructor(
    private readonly disk: SimDisk,
    private readonly hasher: Hasher,
    private readonly ids: IdSource,
    private readonly integrity: IntegrityReport,
  ) {}

  /** A crash loses every temporary file. */
  crash(): void {
    this.temps = new Map();
  }

  get tempFiles(): number {
    return this.temps.size;
  }

  execute(op: FsOp, nowMs: number): DriverOutcome {
    this.created = [];
    const outcome = this.run(op, nowMs);
    return this.created.length === 0 ? outcome : { ...outcome, created: this.created };
  }

  private run(op: FsOp, nowMs: number): DriverOutcome {
    for (const p of opPaths(op)) {
      const problem = this.pathProblem(p);
      if (problem !== null) {
        this.integrity(`${op.op} with a path outside the folder or invalid: ${JSON.stringify(p)} (${problem})`);
        return fail('PATH_ESCAPES_FOLDER', `refused path ${JSON.stringify(p)}`);
      }
    }
    switch (op.op) {
      case 'writeBlock': return this.writeBlock(op, nowMs);
      case 'copyBlock': return this.copyBlock(op, nowMs);
      case 'keepBlock': return this.keepBlock(op);
      case 'commitFile': return this.commitFile(op, nowMs);
      case 'makeDirectory': return this.makeDirectory(op, nowMs);
      case 'makeSymlink': return this.makeSymlink(op, nowMs);
      case 'remove': return this.remove(op.path, op.expect);
      case 'move': return this.move(op, nowMs);
      case 'readBlock': return this.readBlock(op);
      case 'rescan': return done([op.path]);
    }
  }

  /** pathProblem, remembered per path (a pure function of the string; a run uses few paths, over and over). */
  private pathProblem(path: string): string | null {
    let problem = this.pathProblems.get(path);
    if (problem === undefined) this.pathProblems.set(path, (problem = pathProblem(path)));
    return problem;
  }

  private checkBlockClaims(op: { path: string; version: FileVersion; indices: readonly number[]; hash: BlockHash }): boolean {
    let good = op.indices.length > 0;
    for (const i of op.indices) {
      if (op.version.blocks[i] !== op.hash) {
        this.integrity(`${op.path}: block ${i} written as ${op.hash.slice(0, 12)} but the version says ${String(op.version.blocks[i]).slice(0, 12)}`);
        good = false;
      }
    }
    return good;
  }

  private temp(path: string, v: FileVersion): TempFile {
    const key = tempKey(path, v);
    let t = this.temps.get(key);
    if (t === undefined) {
      t = { data: new Uint8Array(v.size), written: new Set() };
      this.temps.set(key, t);
    }
    return t;
  }

  private writeInto(path: string, v: FileVersion, indices: readonly number[], bytes: Uint8Array): void {
    const t = this.temp(path, v);
    for (const i of indices) {
      const off = i * v.blockSizeBytes;
      if (off + bytes.byteLength > t.data.byteLength) continue;
      t.data.set(bytes, off);
      t.written.add(i);
    }
  }

  /** mkdir -p for `path`'s parents; false when one of them is not a directory. */
  private parents(path: string, nowMs: number): boolean {
    const made = this.disk.ensureParents(path, true, nowMs);
    if (made === null) return false;
    this.created.push(...made);
    return true;
  }

  private writeBlock(op: Extract<FsOp, { op: 'writeBlock' }>, nowMs: number): DriverOutcome {
    const actual = this.hasher.sha256(op.data);
    let good = this.checkBlockClaims(op);
    if (actual !== op.hash) {
      this.integrity(`${op.path}: the engine wrote a block claimed as ${op.hash.slice(0, 12)} that hashes to ${actual.slice(0, 12)}`);
      good = false;
    }
    for (const i of op.indices) {
      if (op.data.byteLength !== blockLength(op.version.size, op.version.blockSizeBytes, i)) {
        this.integrity(`${op.path}: block ${i} has ${op.data.byteLength} bytes, the version says ${blockLength(op.version.size, op.version.blockSizeBytes, i)}`);
        good = false;
      }
    }
    // Like the applier, refuse what does not check out: it never reaches the disk.
    if (!good) return fail('BLOCK_HASH_MISMATCH', `block ${op.hash.slice(0, 12)} for ${op.path}: the bytes do not match their hash`);
    // The temp file lives beside its target, so the target's parents are made first.
    if (!this.parents(op.path, nowMs)) return fail('FS_ERROR', `${op.path}: a parent is not a directory`, [op.path]);
    if (this.disk.full) return fail('DISK_FULL', `disk full writing ${op.path}`);
    this.writeInto(op.path, op.version, op.indices, op.data);
    return done();
  }

  private copyBlock(op: Extract<FsOp, { op: 'copyBlock' }>, nowMs: number): DriverOutcome {
    if (!this.checkBlockClaims(op)) return fail('BLOCK_HASH_MISMATCH', `copy of ${op.hash.slice(0, 12)} into ${op.path}: wrong block`);
    const src = this.disk.get(op.fromPath);
    if (src === undefined || src.type !== 'file' || op.fromOffset + op.length > src.data.byteLength) return changed(op.fromPath, 'it is gone');
    const bytes = src.data.subarray(op.fromOffset, op.fromOffset + op.length);
    if (this.hasher.sha256(bytes) !== op.hash) return changed(op.fromPath, `block ${op.hash.slice(0, 12)} is no longer at offset ${op.fromOffset}`);
    if (!this.parents(op.path, nowMs)) return fail('FS_ERROR', `${op.path}: a parent is not a directory`, [op.path]);
    if (this.disk.full) return fail('DISK_FULL', `disk full writing ${op.path}`);
    this.writeInto(op.path, op.version, op.indices, bytes.slice());
    return done();
  }

  /**
   * A block a transfer wrote before a restart, looked for in its temp file.
   * Here a crash loses every temp file (they are never synced before their
   * commit), so after one this always fails and the block is fetched; the
   * daemon keeps what a killed process wrote.
   */
  private keepBlock(op: Extract<FsOp, { op: 'keepBlock' }>): DriverOutcome {
    if (!this.checkBlockClaims(op)) return fail('BLOCK_HASH_MISMATCH', `keep of ${op.hash.slice(0, 12)} in ${op.path}: wrong block`);
    const t = this.temps.get(tempKey(op.path, op.version));
    if (t === undefined) return fail('FS_ERROR', `${op.path}: no temporary file from an earlier run`);
    for (const i of op.indices) {
      const off = i * op.version.blockSizeBytes;
      const bytes = t.data.subarray(off, off + blockLength(op.version.size, op.version.blockSizeBytes, i));
      if (!t.written.has(i) || this.hasher.sha256(bytes) !== op.hash) return fail('FS_ERROR', `${op.path}: block ${i} is not in the temporary file`);
    }
    return done();
  }

  /** Verify the temp file against the version, then fsync and rename it into place. */
  private commitFile(op: Extract<FsOp, { op: 'commitFile' }>, nowMs: number): DriverOutcome {
    const v = op.version;
    if (v.type !== 'file' || v.deleted) {
      this.integrity(`${op.path}: commitFile of a ${v.deleted ? 'tombstone' : v.type}`);
      return fail('FS_ERROR', `commitFile of a ${v.deleted ? 'tombstone' : v.type}`);
    }
    if (this.holds(op.path, v)) {
      this.temps.delete(tempKey(op.path, v));
      return done(); // already in place (a commit before a crash the log never heard of)
    }
    const t = v.size === 0 ? { data: new Uint8Array(0), written: new Set<number>() } : this.temps.get(tempKey(op.path, v));
    if (t === undefined) return fail('FS_ERROR', `${op.path}: no temporary file to commit (no blocks were written)`);
    const hashes = this.disk.blockHashes(t.data);
    const bad = v.blocks.filter((h, i) => hashes[i] !== h).length + Math.max(0, hashes.length - v.blocks.length);
    if (bad > 0) return fail('BLOCK_HASH_MISMATCH', `${op.path}: ${bad} of ${v.blocks.length} blocks do not match; the temporary file is kept`);
    const why = this.differs(op.path, op.expect);
    if (why !== null) return changed(op.path, why);
    if (this.disk.full) {
      this.temps.delete(tempKey(op.path, v));
      return fail('DISK_FULL', `disk full committing ${op.path}; its temporary file was removed, the file itself is untouched`);
    }
    const placed = this.replace(op.path, { type: 'file', data: t.data, mode: v.mode, mtimeMs: v.mtimeMs }, nowMs);
    if (placed.result.ok) this.temps.delete(tempKey(op.path, v));
    return placed;
  }

  private makeDirectory(op: Extract<FsOp, { op: 'makeDirectory' }>, nowMs: number): DriverOutcome {
    const v = op.version;
    if (v.type !== 'directory' || v.deleted) {
      this.integrity(`${op.path}: makeDirectory of a ${v.deleted ? 'tombstone' : v.type}`);
      return fail('FS_ERROR', 'makeDirectory takes a live directory version');
    }
    const current = this.disk.get(op.path);
    // mkdir of an existing directory destroys nothing: it only gets the version's mode.
    if (current?.type === 'directory') {
      if (current.mode !== v.mode) this.disk.put(op.path, { ...current, mode: v.mode }, true);
      return done();
    }
    const why = current === undefined ? null : this.differs(op.path, op.expect);
    if (why !== null) return changed(op.path, why);
    if (this.disk.full) return fail('DISK_FULL', `disk full making ${op.path}`);
    return this.replace(op.path, { type: 'directory', mode: v.mode, mtimeMs: v.mtimeMs }, nowMs);
  }

  private makeSymlink(op: Extract<FsOp, { op: 'makeSymlink' }>, nowMs: number): DriverOutcome {
    const v = op.version;
    if (v.type !== 'symlink' || v.deleted || typeof v.target !== 'string') {
      this.integrity(`${op.path}: makeSymlink of a ${v.deleted ? 'tombstone' : v.type} or without a target`);
      return fail('FS_ERROR', 'makeSymlink takes a live symlink version with a target');
    }
    const current = this.disk.get(op.path);
    if (current?.type === 'symlink' && current.target === v.target) return done();
    const why = this.differs(op.path, op.expect);
    if (why !== null) return changed(op.path, why);
    if (this.disk.full) return fail('DISK_FULL', `disk full making ${op.path}`);
    return this.replace(op.path, { type: 'symlink', target: v.target, mode: 7, mtimeMs: v.mtimeMs }, nowMs);
  }

  /** Put `entry` at `path` (fsynced), replacing a file, a symlink or an empty directory. */
  private replace(path: string, entry: DiskEntry, nowMs: number): DriverOutcome {
    const current = this.disk.get(path);
    if (current?.type === 'directory' && entry.type !== 'directory' && this.disk.hasChildren(path)) {
      return fail('DIR_NOT_EMPTY', `${path} is a directory that still holds entries; not removed`);
    }
    if (!this.parents(path, nowMs)) return fail('FS_ERROR', `${path}: a parent is not a directory`, [path]);
    this.disk.put(path, entry, true);
    return done();
  }

  private remove(path: string, expect: FileVersion | null): DriverOutcome {
    const current = this.disk.get(path);
    if (current === undefined) return done(); // already gone
    const why = this.differs(path, expect);
    if (why !== null) return changed(path, why);
    if (current.type === 'directory' && this.disk.hasChildren(path)) return fail('DIR_NOT_EMPTY', `${path} is a directory that still holds entries; not removed`);
    this.disk.put(path, undefined, true);
    return done();
  }

  /** Move what is at `from` (matching `expect`) to `to` (where nothing may be), with the version's mode. */
  private move(op: Extract<FsOp, { op: 'move' }>, nowMs: number): DriverOutcome {
    const { from, to, version } = op;
    if (version.deleted) {
      this.integrity(`move ${from} -> ${to} with a tombstone`);
      return fail('FS_ERROR', 'move takes the live version that ends up at `to`');
    }
    if (!this.disk.has(from)) return this.holds(to, version) ? done() : changed(from, 'it is gone');
    const why = this.differs(from, op.expect);
    if (why !== null) return changed(from, why);
    if (from !== to && this.disk.has(to)) return changed(to, 'something is already there');
    if (to.startsWith(`${from}/`)) return fail('FS_ERROR', `cannot move ${from} into itself`);
    if (!this.parents(to, nowMs)) return fail('FS_ERROR', `${to}: a parent is not a directory`, [to]);
    const e = this.disk.get(from) as DiskEntry;
    if (e.type !== 'symlink' && e.mode !== version.mode) this.disk.put(from, { ...e, mode: version.mode }, true);
    this.disk.renameTree(from, to, true);
    return done();
  }

  private readBlock(op: Extract<FsOp, { op: 'readBlock' }>): DriverOutcome {
    const e = this.disk.get(op.path);
    const bytes = e?.type === 'file' && op.offset + op.length <= e.data.byteLength ? e.data.subarray(op.offset, op.offset + op.length) : null;
    if (bytes === null || this.hasher.sha256(bytes) !== op.hash) {
      return {
        result: { ok: false, code: 'FS_ERROR', message: `${op.path} changed on disk since it was scanned (block ${op.hash.slice(0, 12)} is no longer at offset ${op.offset}); not touched` },
        rescan: [],
        reply: { to: op.forPeer, msg: { cmd: 'DONTHAVE', id: this.ids.messageId(), hashes: [op.hash] } },
        created: [],
      };
    }
    return { result: ok, rescan: [], reply: { to: op.forPeer, msg: { cmd: 'HEREIS', id: this.ids.messageId(), hash: op.hash, data: bytes.slice() } }, created: [] };
  }

  /** Does `path` already hold exactly `v` (type, mode, content)? */
  holds(path: string, v: FileVersion): boolean {
    const e = this.disk.get(path);
    if (e === undefined || v.deleted || e.type !== v.type) return false;
    if (e.type === 'symlink') return e.target === (v.target ?? '');
    if (e.type === 'directory') return e.mode === v.mode;
    if (e.mode !== v.mode) return false;
    const h = this.disk.blockHashes(e.data);
    return h.length === v.blocks.length && h.every((x, i) => x === v.blocks[i]);
  }

  /** Why the disk does not hold what the engine expects at `path` (null or a tombstone: nothing), or null. */
  differs(path: string, expect: FileVersion | null): string | null {
    const e = this.disk.get(path);
    const exp = expect !== null && !expect.deleted ? expect : null;
    if (exp === null) return e === undefined ? null : `a ${e.type} is there, none was expected`;
    if (e === undefined) return `the ${exp.type} is gone`;
    if (e.type !== exp.type) return `it is a ${e.type}, a ${exp.type} was expected`;
    if (e.type === 'directory') return null;
    if (e.type === 'symlink') return e.target === exp.target ? null : 'its target differs';
    if (e.mode !== exp.mode) return 'its mode differs';
    const h = this.disk.blockHashes(e.data);
    return h.length === exp.blocks.length && h.every((x, i) => x === exp.blocks[i]) ? null : 'its content differs';
  }
}

function opPaths(op: FsOp): string[] {
  switch (op.op) {
    case 'copyBlock': return [op.path, op.fromPath];
    case 'move': return [op.from, op.to];
    case 'rescan': return op.path === '' ? [] : [op.path];
    default: return [op.path];
  }
}
