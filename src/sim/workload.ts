/**
 * The simulated users: create, modify, chmod, delete, rename, case-only
 * rename, file/directory swaps, mkdir, symlinks, and the same path edited on
 * several peers at once. Names come from a small pool so edits collide; some
 * contents come from a tiny shared pool so concurrent edits sometimes agree
 * (and must merge silently). Large files are built from a few shared
 * 128 KiB chunks, so blocks recur across files and peers can copy them locally.
 *
 * Users never touch `.ploppy-conflict-` copies: the no-lost-write checker
 * relies on a copy holding exactly the content it preserved.
 */
import { blockSizeMinBytes } from '../core/constants.js';
import type { Rng } from '../core/rng.js';
import type { DiskEntry, SimDisk } from './disk.js';
import { parentPath } from './disk.js';
import type { WorkloadKnobs, WorkloadOp } from './knobs.js';
import { workloadOps } from './knobs.js';

export interface UserEdit {
  readonly peer: number;
  readonly op: WorkloadOp;
  readonly touched: readonly string[];
  readonly moves: readonly (readonly [string, string])[];
  readonly detail: string;
}

export interface UserDisk {
  readonly peer: number;
  readonly disk: SimDisk;
}

const namePoolAll = [
  'a', 'b', 'Notes.txt', 'notes.txt', 'Docs', 'c', 'photo.JPG', 'src', 'x.md', 'README', 'docs', 'y',
  'data.bin', 'lib', 'todo.txt', 'Q', 'img', 'e.tar.gz', 'f', 'g', 'Makefile', 'h', 'k', 'z',
];

export const isConflictCopy = (p: string): boolean => p.includes('.ploppy-conflict-');

const fileModes = [6, 6, 6, 7, 4, 0];

export class Workload {
  private readonly names: readonly string[];
  private readonly shared: readonly Uint8Array[];
  private chunks: Uint8Array[] | null = null;

  constructor(private readonly knobs: WorkloadKnobs, private readonly rng: Rng) {
    this.names = namePoolAll.slice(0, Math.max(2, Math.min(namePoolAll.length, knobs.namePool)));
    const pool = rng.fork('shared-content');
    this.shared = [0, 1, 2].map((i) => pool.bytes(1 + i * 37));
  }

  /** One user action on one of `disks` (or several, for a concurrent edit). */
  act(disks: readonly UserDisk[], nowMs: number): UserEdit[] {
    if (disks.length === 0) return [];
    const op = this.pickOp();
    if (op === 'concurrent') return this.concurrent(disks, nowMs);
    const target = this.rng.pick(disks);
    const edit = this.single(op, target, nowMs);
    return edit === null ? [] : [edit];
  }

  private pickOp(): WorkloadOp {
    const total = workloadOps.reduce((n, op) => n + this.knobs.mix[op], 0);
    let x = this.rng.next() * total;
    for (const op of workloadOps) {
      x -= this.knobs.mix[op];
      if (x < 0) return op;
    }
    return 'create';
  }

  private single(op: WorkloadOp, d: UserDisk, nowMs: number): UserEdit | null {
    const sync = this.rng.chance(this.knobs.userSyncRate);
    switch (op) {
      case 'create': return this.create(d, nowMs, sync);
      case 'modify': return this.modify(d, nowMs, sync);
      case 'chmod': return this.chmod(d, nowMs, sync);
      case 'delete': return this.remove(d, sync);
      case 'rename': return this.rename(d, nowMs, sync, false);
      case 'caseRename': return this.rename(d, nowMs, sync, true);
      case 'swap': return this.swap(d, nowMs, sync);
      case 'mkdir': return this.mkdir(d, nowMs, sync);
      case 'symlink': return this.symlink(d, nowMs, sync);
      case 'concurrent': return null;
    }
  }

  // ------------------------------------------------------------ choosing paths

  private randomPath(): string {
    const depth = this.rng.chance(0.55) ? 1 : this.rng.chance(0.8) ? 2 : 3;
    const parts: string[] = [];
    for (let i = 0; i < depth; i++) parts.push(this.rng.pick(this.names));
    return parts.join('/');
  }

  /** A path where nothing is and something can be created (tries a few times). */
  private freePath(disk: SimDisk): string | null {
    for (let i = 0; i < 8; i++) {
      const p = this.randomPath();
      if (!disk.has(p) && !disk.parentBlocked(p)) return p;
    }
    return null;
  }

  private existing(disk: SimDisk, type?: DiskEntry['type']): string | null {
    const ps = disk.paths().filter((p) => !isConflictCopy(p) && (type === undefined || disk.get(p)?.type === type));
    return ps.length === 0 ? null : this.rng.pick(ps);
  }

  // ------------------------------------------------------------ contents

  private content(): Uint8Array {
    if (this.rng.chance(this.knobs.sharedContentRate)) return this.rng.pick(this.shared);
    if (this.rng.chance(this.knobs.largeFileRate)) return this.large();
    const len = this.rng.int(1 << this.rng.int(12));
    return this.rng.bytes(len);
  }

  private chunkPool(): Uint8Array[] {
    if (this.chunks === null) {
      const r = this.rng.fork('chunks');
      this.chunks = [0, 1, 2, 3].map(() => r.bytes(blockSizeMinBytes));
    }
    return this.chunks;
  }

  /** 1-3 whole shared chunks plus a short random tail. */
  private large(): Uint8Array {
    const pool = this.chunkPool();
    const n = 1 + this.rng.int(3);
    const tail = this.rng.bytes(this.rng.int(1000));
    const out = new Uint8Array(n * blockSizeMinBytes + tail.byteLength);
    for (let i = 0; i < n; i++) out.set(this.rng.pick(pool), i * blockSizeMinBytes);
    out.set(tail, n * blockSizeMinBytes);
    return out;
  }

  /** Change one block of a large file, or the whole of a small one. */
  private edited(old: Uint8Array): Uint8Array {
    if (old.byteLength <= blockSizeMinBytes || this.rng.chance(0.3)) return this.content();
    const copy = old.slice();
    const blocks = Math.ceil(copy.byteLength / blockSizeMinBytes);
    const i = this.rng.int(blocks);
    const chunk = this.rng.pick(this.chunkPool());
    copy.set(chunk.subarray(0, Math.min(blockSizeMinBytes, copy.byteLength - i * blockSizeMinBytes)), i * blockSizeMinBytes);
    return copy;
  }

  // ------------------------------------------------------------ actions

  private writeFile(disk: SimDisk, path: string, data: Uint8Array, mode: number, nowMs: number, sync: boolean): string[] {
    const parents = disk.ensureParents(path, sync, nowMs);
    if (parents === null) return [];
    disk.put(path, { type: 'file', data, mode, mtimeMs: nowMs }, sync);
    return [...parents, path];
  }

  private create(d: UserDisk, nowMs: number, sync: boolean): UserEdit | null {
    const p = this.freePath(d.disk);
    if (p === null) return null;
    const data = this.content();
    const touched = this.writeFile(d.disk, p, data, this.rng.pick(fileModes), nowMs, sync);
    return { peer: d.peer, op: 'create', touched, moves: [], detail: `${p} (${data.byteLength} bytes)` };
  }

  private modify(d: UserDisk, nowMs: number, sync: boolean): UserEdit | null {
    const p = this.existing(d.disk, 'file');
    if (p === null) return this.create(d, nowMs, sync);
    const e = d.disk.get(p) as Extract<DiskEntry, { type: 'file' }>;
    const data = this.edited(e.data);
    d.disk.put(p, { ...e, data, mtimeMs: nowMs }, sync);
    return { peer: d.peer, op: 'modify', touched: [p], moves: [], detail: `${p} (${data.byteLength} bytes)` };
  }

  private chmod(d: UserDisk, nowMs: number, sync: boolean): UserEdit | null {
    // chmod follows symlinks; a link's own mode is always 7.
    const p = this.existing(d.disk, this.rng.chance(0.8) ? 'file' : 'directory');
    if (p === null) return null;
    const e = d.disk.get(p) as DiskEntry;
    const mode = e.type === 'directory' ? this.rng.pick([5, 7]) : this.rng.pick(fileModes);
    d.disk.put(p, { ...e, mode, mtimeMs: nowMs }, sync);
    return { peer: d.peer, op: 'chmod', touched: [p], moves: [], detail: `${p} ${mode}` };
  }

  private remove(d: UserDisk, sync: boolean): UserEdit | null {
    const p = this.existing(d.disk);
    if (p === null) return null;
    const gone = d.disk.removeTree(p, sync);
    return { peer: d.peer, op: 'delete', touched: gone, moves: [], detail: `${p} (${gone.length} entries)` };
  }

  private rename(d: UserDisk, nowMs: number, sync: boolean, caseOnly: boolean): UserEdit | null {
    const from = this.existing(d.disk);
    if (from === null) return null;
    const to = caseOnly ? flipCase(from) : this.freePath(d.disk);
    if (to === null || to === from || d.disk.has(to) || to.startsWith(`${from}/`) || d.disk.parentBlocked(to)) return null;
    const parents = d.disk.ensureParents(to, sync, nowMs);
    if (parents === null) return null;
    const moves = d.disk.renameTree(from, to, sync);
    return { peer: d.peer, op: caseOnly ? 'caseRename' : 'rename', touched: parents, moves, detail: `${from} -> ${to}` };
  }

  /** A file becomes a directory holding a file, or a directory tree becomes a file. */
  private swap(d: UserDisk, nowMs: number, sync: boolean): UserEdit | null {
    const p = this.existing(d.disk);
    if (p === null) return null;
    const e = d.disk.get(p) as DiskEntry;
    const gone = d.disk.removeTree(p, sync);
    if (e.type === 'directory') {
      const touched = this.writeFile(d.disk, p, this.content(), 6, nowMs, sync);
      return { peer: d.peer, op: 'swap', touched: [...gone, ...touched], moves: [], detail: `${p} directory -> file` };
    }
    d.disk.put(p, { type: 'directory', mode: 7, mtimeMs: nowMs }, sync);
    const child = `${p}/${this.rng.pick(this.names)}`;
    const touched = this.writeFile(d.disk, child, this.content(), 6, nowMs, sync);
    return { peer: d.peer, op: 'swap', touched: [...gone, p, ...touched], moves: [], detail: `${p} ${e.type} -> directory` };
  }

  private mkdir(d: UserDisk, nowMs: number, sync: boolean): UserEdit | null {
    const p = this.freePath(d.disk);
    if (p === null) return null;
    const parents = d.disk.ensureParents(p, sync, nowMs);
    if (parents === null) return null;
    d.disk.put(p, { type: 'directory', mode: 7, mtimeMs: nowMs }, sync);
    return { peer: d.peer, op: 'mkdir', touched: [...parents, p], moves: [], detail: p };
  }

  private symlink(d: UserDisk, nowMs: number, sync: boolean): UserEdit | null {
    const p = this.freePath(d.disk);
    if (p === null) return null;
    const parents = d.disk.ensureParents(p, sync, nowMs);
    if (parents === null) return null;
    const target = this.rng.chance(0.2) ? '../outside' : this.rng.pick(this.names);
    d.disk.put(p, { type: 'symlink', target, mode: 7, mtimeMs: nowMs }, sync);
    return { peer: d.peer, op: 'symlink', touched: [...parents, p], moves: [], detail: `${p} -> ${target}` };
  }

  /** The same path written on two or three peers at the same instant. */
  private concurrent(disks: readonly UserDisk[], nowMs: number): UserEdit[] {
    const first = this.rng.pick(disks);
    const p = this.existing(first.disk, 'file') ?? this.randomPath();
    const count = Math.min(disks.length, 2 + this.rng.int(2));
    const chosen = [...disks];
    const picked: UserDisk[] = [];
    while (picked.length < count && chosen.length > 0) picked.push(chosen.splice(this.rng.int(chosen.length), 1)[0] as UserDisk);
    const edits: UserEdit[] = [];
    for (const d of picked) {
      const there = d.disk.get(p);
      if (there !== undefined && there.type !== 'file') continue;
      if (d.disk.parentBlocked(p)) continue;
      const sync = this.rng.chance(this.knobs.userSyncRate);
      const touched = this.writeFile(d.disk, p, this.content(), there?.type === 'file' ? there.mode : 6, nowMs, sync);
      if (touched.length > 0) edits.push({ peer: d.peer, op: 'concurrent', touched, moves: [], detail: p });
    }
    return edits;
  }
}

/** Flip the case of the last segment's letters (Foo.txt -> fOO.TXT). */
function flipCase(p: string): string | null {
  const parent = parentPath(p);
  const base = p.slice(parent === null ? 0 : parent.length + 1);
  const flipped = [...base].map((ch) => (ch === ch.toUpperCase() ? ch.toLowerCase() : ch.toUpperCase())).join('');
  if (flipped === base) return null;
  return parent === null ? flipped : `${parent}/${flipped}`;
}
