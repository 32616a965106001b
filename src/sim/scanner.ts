/**
 * The simulated watcher and scanner: turns what the user did to a SimDisk into
 * the engine's `local` inputs, the way chokidar plus a hashing scanner do for
 * the daemon.
 *
 * Edits are queued as touched paths (and renames as moves) and drained after
 * the knob's scan delay, so several quick edits coalesce and the engine's view
 * lags the disk, which is what makes the driver's `expect` rule matter. A full
 * scan compares the whole disk with the index and reports only differences.
 */
import { blockSizeFor } from '../core/blocks.js';
import type { SyncPath } from '../core/path.js';
import type { LocalChange } from '../engine/types.js';
import type { LocalObservation } from '../events/types.js';
import type { FileVersion } from '../events/version.js';
import type { FileEntry } from '../projections/state.js';
import type { DiskEntry, SimDisk } from './disk.js';

export class Scanner {
  private pending = new Set<string>();
  private moves: [string, string][] = [];

  constructor(private readonly disk: SimDisk) {}

  get hasPending(): boolean {
    return this.pending.size > 0 || this.moves.length > 0;
  }

  touch(paths: Iterable<string>): void {
    for (const p of paths) this.pending.add(p);
  }

  moved(from: string, to: string): void {
    this.moves.push([from, to]);
    this.pending.add(from);
    this.pending.add(to);
  }

  /** A crash loses the watcher's queue; the restart's full scan finds everything again. */
  crash(): void {
    this.pending = new Set();
    this.moves = [];
  }

  /** The queued changes as engine inputs: moves in order, then deletions (children first), then changes (parents first). */
  drain(): LocalChange[] {
    const out: LocalChange[] = this.moves.map(([from, to]) => ({ kind: 'moved', from: from as SyncPath, to: to as SyncPath }));
    const paths = [...this.pending].sort();
    this.pending = new Set();
    this.moves = [];
    for (const p of [...paths].reverse()) if (!this.disk.has(p)) out.push({ kind: 'deleted', path: p as SyncPath });
    for (const p of paths) {
      const e = this.disk.get(p);
      if (e !== undefined) out.push({ kind: 'changed', observation: this.observe(p, e) });
    }
    return out;
  }

  /** What is at one path now, as a change. */
  observePath(path: string): LocalChange {
    const e = this.disk.get(path);
    return e === undefined ? { kind: 'deleted', path: path as SyncPath } : { kind: 'changed', observation: this.observe(path, e) };
  }

  observe(path: string, e: DiskEntry): LocalObservation {
    const base = { path: path as SyncPath, mode: e.mode, mtimeMs: e.mtimeMs };
    if (e.type === 'file') {
      return { ...base, type: 'file', size: e.data.byteLength, blockSizeBytes: blockSizeFor(e.data.byteLength), blocks: this.disk.blockHashes(e.data) };
    }
    if (e.type === 'symlink') return { ...base, type: 'symlink', size: 0, blockSizeBytes: blockSizeFor(0), blocks: [], target: e.target };
    return { ...base, type: 'directory', size: 0, blockSizeBytes: blockSizeFor(0), blocks: [] };
  }

  /** Compare the whole disk with the index; report what differs, then ScanFinished. */
  fullScan(index: ReadonlyMap<string, FileEntry>): LocalChange[] {
    this.crash();
    const out: LocalChange[] = [];
    const known = [...index.entries()].filter(([, f]) => !f.version.deleted).map(([p]) => p).sort().reverse();
    for (const p of known) if (!this.disk.has(p)) out.push({ kind: 'deleted', path: p as SyncPath });
    let files = 0;
    let bytes = 0;
    for (const p of this.disk.paths()) {
      const e = this.disk.get(p) as DiskEntry;
      if (e.type === 'file') (files++, (bytes += e.data.byteLength));
      const v = index.get(p)?.version;
      if (v === undefined || v.deleted || !this.sameAs(e, v)) out.push({ kind: 'changed', observation: this.observe(p, e) });
    }
    out.push({ kind: 'scanFinished', files, bytes });
    return out;
  }

  /** Does the disk entry hold exactly the version's content? */
  sameAs(e: DiskEntry, v: FileVersion): boolean {
    if (e.type !== v.type || e.mode !== v.mode) return false;
    if (e.type === 'symlink') return e.target === (v.target ?? '');
    if (e.type === 'directory') return true;
    const h = this.disk.blockHashes(e.data);
    return h.length === v.blocks.length && h.every((x, i) => x === v.blocks[i]);
  }
}
