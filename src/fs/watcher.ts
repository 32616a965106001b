/**
 * The watcher: turns file events (chokidar, through ChokidarSource) into the
 * engine's LocalChanges.
 *
 * Theory of operation
 * - Events only mark paths dirty. After watchDebounceMs of quiet (and at least
 *   every watchDebounceMaxMs under continuous activity) the dirty paths are
 *   looked at as they are *now* (lstat), so a burst of events on one path is
 *   one report, and the order of the events does not matter. A known
 *   directory found gone takes its known descendants with it.
 * - `known` is what the engine has been told is on disk (seeded from the scan).
 *   A path whose stat matches its known entry is not reported: that is how the
 *   applier's own writes stay silent. The applier brackets each write with
 *   writeStarted/writeFinished; events on a path being written are held until
 *   it finishes, then compared with the entry the applier left.
 * - Renames: a known path that vanished and a path that appeared in the same
 *   batch with the same inode, type, size and mtime are one move; failing that,
 *   a new file with exactly the blocks of a vanished one is a move too. A
 *   move whose mode changed on the way is followed by a change.
 * - Order of a report: creations and moves by target path (parents first),
 *   then deletions (children first).
 * - A chmod changes no mtime but is an inotify event like any other.
 * - When the watcher cannot keep up (too many pending paths), watching fails,
 *   or the ignore rules change, it asks for a full rescan instead of guessing.
 */
import type { Stats } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { ignoreFileName, watchDebounceMaxMs, watchDebounceMs, watchPendingPathsMax, watchRelistDelayMs } from '../core/constants.js';
import { isPloppyError } from '../core/errors.js';
import { toSyncPath } from '../core/path.js';
import type { SyncPath } from '../core/path.js';
import type { LocalChange } from '../engine/types.js';
import { lstatOrNull } from './applier-support.js';
import type { WriteListener } from './applier.js';
import { isTempName, observationOf, ownerBits, sameContent, sameMtime, typeOf } from './disk.js';
import type { DiskEntry } from './disk.js';
import { basenameOf, parentPath, SharedFolder } from './folder.js';
import type { HashPool } from './hash-pool.js';
import type { IgnoreRules } from './ignore.js';
import { observe } from './scanner.js';
import { ChokidarSource } from './chokidar-source.js';

/** What the watcher needs: the rules, what is known to be on disk, and where to report. */
export interface WatcherOptions {
  readonly ignore: IgnoreRules;
  /** What is on disk as the engine knows it (ScanResult.entries). A vanished path not in it is not reported. */
  readonly known: ReadonlyMap<string, DiskEntry>;
  readonly pool?: HashPool;
  /** A batch of changes, and the entries they leave on disk (null: gone) for the caller's inode map. */
  readonly onChanges: (changes: LocalChange[], entries: ReadonlyMap<SyncPath, DiskEntry | null>) => void;
  readonly onRescanNeeded: (reason: string) => void;
  /** Every path an event names, as the event arrives (before the debounce; the applier forgets what it knew of it). */
  readonly onEvent?: (native: string) => void;
  readonly debounceMs?: number;
}

/** Paths looked at side by side when a batch is processed. */
const lookConcurrency = 64;

interface Seen {
  readonly path: SyncPath;
  readonly native: string;
  readonly st: Stats;
}

interface Move {
  readonly from: DiskEntry;
  readonly to: DiskEntry;
}

/** Reports local changes to the shared folder; see the module comment. Pass it to the Applier as its listener. */
export class Watcher implements WriteListener {
  private readonly known: Map<string, DiskEntry>;
  private readonly pending = new Map<SyncPath, string>();
  private readonly held = new Map<SyncPath, number>();
  private tree: ChokidarSource | null = null;
  private timer: NodeJS.Timeout | null = null;
  private firstPendingAtMs = 0;
  private flushing: Promise<void> | null = null;
  private closed = false;

  private constructor(private readonly folder: SharedFolder, private readonly options: WatcherOptions) {
    this.known = new Map(options.known);
  }

  /** Start watching `dir`; resolves once every directory is watched. */
  static async start(dir: string, options: WatcherOptions): Promise<Watcher> {
    const w = new Watcher(await SharedFolder.open(dir), options);
    await w.startWatching();
    return w;
  }

  /** The applier is about to change `p`: hold its events until it has finished. */
  writeStarted(p: SyncPath): void {
    this.held.set(p, (this.held.get(p) ?? 0) + 1);
  }

  /** The applier left `entry` at `p` (null: nothing; undefined: unknown): that is now known, not news. */
  writeFinished(p: SyncPath, entry: DiskEntry | null | undefined): void {
    if (entry === null) this.known.delete(p);
    else if (entry !== undefined) this.known.set(p, entry);
    const n = (this.held.get(p) ?? 1) - 1;
    if (n > 0) this.held.set(p, n);
    else this.held.delete(p);
    if (n <= 0 && this.pending.has(p)) this.schedule();
  }

  /** A scan has told the engine about these entries (and these paths gone): they are known, not news. */
  learn(entries: ReadonlyMap<string, DiskEntry>, deleted: Iterable<string>): void {
    for (const [p, e] of entries) if (!this.held.has(p as SyncPath)) this.known.set(p, e);
    for (const p of deleted) if (!this.held.has(p as SyncPath)) this.known.delete(p);
  }

  /** Resolves when nothing is pending or being processed (held paths aside). */
  async settled(): Promise<void> {
    while (this.flushing !== null || this.timer !== null) {
      if (this.flushing !== null) await this.flushing;
      else await new Promise((r) => setTimeout(r, this.debounceMs));
    }
  }

  /** Stop watching; nothing more is reported. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.pending.clear();
    await this.tree?.close();
    this.tree = null;
    if (this.flushing !== null) await this.flushing;
  }

  private get debounceMs(): number {
    return this.options.debounceMs ?? watchDebounceMs;
  }

  // ---------------------------------------------------------------- events

  private async startWatching(): Promise<void> {
    const tree = new ChokidarSource(this.folder.root, {
      onPath: (native) => this.noted(native),
      onListed: (native, st) => this.listed(native, st),
      onError: (reason) => this.options.onRescanNeeded(reason),
      ignored: (native, isDirectory) => this.ignoredPath(native, isDirectory),
      ignoredName: isTempName,
    });
    this.tree = tree;
    await tree.start();
  }

  private async restartWatching(): Promise<void> {
    await this.tree?.close();
    this.tree = null;
    if (!this.closed) await this.startWatching();
  }

  private ignoredPath(native: string, isDirectory: boolean): boolean {
    const p = this.syncPathOf(native);
    if (p === '') return false;
    if (p === null) return true;
    return this.options.ignore.ignores(p, isDirectory);
  }

  /** '' for the root, null for what can never be synced. */
  private syncPathOf(native: string): SyncPath | '' | null {
    const rel = path.relative(this.folder.root, native);
    if (rel === '') return '';
    if (rel.startsWith('..') || path.isAbsolute(rel) || isTempName(path.basename(native))) return null;
    try {
      return toSyncPath(rel);
    } catch {
      return null;
    }
  }

  /** A file chokidar listed: news only when it differs from what the engine knows. */
  private listed(native: string, st: Stats): void {
    const p = this.syncPathOf(native);
    if (p === '' || p === null) return;
    const k = this.known.get(p);
    if (k !== undefined && !this.held.has(p) && unchangedOnDisk(k, st)) return;
    this.noted(native);
  }

  private noted(native: string): void {
    this.options.onEvent?.(native);
    const p = this.syncPathOf(native);
    if (p === '' || p === null || this.closed) return;
    this.pending.set(p, native);
    if (this.pending.size > watchPendingPathsMax) {
      this.pending.clear();
      this.options.onRescanNeeded(`more than ${watchPendingPathsMax} paths changed at once`);
      return;
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.closed) return;
    const nowMs = performance.now();
    if (this.timer === null) this.firstPendingAtMs = nowMs;
    else clearTimeout(this.timer);
    const delayMs = Math.max(0, Math.min(this.debounceMs, this.firstPendingAtMs + watchDebounceMaxMs - nowMs));
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, delayMs);
  }

  // ---------------------------------------------------------------- a batch

  private flush(): Promise<void> {
    if (this.flushing !== null) return this.flushing.then(() => this.flush());
    const batch = [...this.pending].filter(([p]) => !this.held.has(p));
    for (const [p] of batch) this.pending.delete(p);
    if (batch.length === 0) return Promise.resolve();
    this.flushing = this.process(batch)
      .catch((e: unknown) => this.options.onRescanNeeded(`watcher failed: ${e instanceof Error ? e.message : String(e)}`))
      .finally(() => { this.flushing = null; });
    return this.flushing;
  }

  private async process(batch: [SyncPath, string][]): Promise<void> {
    const rulesChanged = batch.filter(([p]) => basenameOf(p) === ignoreFileName);
    for (const [p, native] of rulesChanged) await this.options.ignore.reload(path.dirname(native), parentPath(p));
    const looked = await this.lookAll(batch);
    const gone: DiskEntry[] = [];
    const present: Seen[] = [];
    looked.forEach(({ path: p, native, st }) => {
      const type = st === null ? null : typeOf(st);
      const k = this.known.get(p);
      if (st === null || type === null) {
        if (k !== undefined) gone.push(k);
      } else if (!this.options.ignore.ignores(p, type === 'directory') && !(k !== undefined && unchangedOnDisk(k, st))) {
        present.push({ path: p, native, st });
      }
    });
    const appeared = present.filter(({ path: p, st }) => st.isDirectory() && this.known.get(p)?.type !== 'directory');
    if (gone.length > 0 && appeared.length > 0) present.push(...(await this.entriesUnder(appeared, new Set(looked.map((l) => l.path)))));
    for (const { path: p, native, st } of present) {
      if (st.isDirectory() && this.known.get(p)?.type !== 'directory') this.relist(native);
    }
    this.addGoneDescendants(gone, new Set(looked.map((l) => l.path)));
    const { moves, rest } = movesByInode(gone, present);
    const observed = await this.observeAll(rest);
    const contentMoves = movesByContent(gone, observed, moves, this.known);
    this.report([...moves, ...contentMoves], observed, gone);
    if (rulesChanged.length > 0 && !this.closed) {
      await this.restartWatching();
      this.options.onRescanNeeded('.ploppyignore changed');
    }
    if (this.pending.size > 0) this.schedule();
  }

  /**
   * A new directory's entries, looked at now and once more a little later.
   * chokidar lists a new directory before it puts a watch on it, so an entry
   * made in between (a busy machine can put a whole scheduling slice there)
   * is in neither. An entry that is known and unchanged reports nothing.
   */
  private relist(native: string): void {
    const look = async (): Promise<void> => {
      if (this.closed) return;
      const names = await readdir(native).catch(() => [] as string[]);
      for (const name of names) if (!isTempName(name)) this.noted(path.join(native, name));
    };
    void look();
    setTimeout(() => void look(), watchRelistDelayMs).unref();
  }

  /**
   * What is under directories that appeared in a batch that also lost
   * something, looked at now: a directory renamed within the folder is the old
   * one gone and the new one present, and its entries are matched as moves
   * (by inode) only when they are in the same batch. They are not left to
   * chokidar's listing of the new directory, which may come later
   * (ChokidarSource defers re-reads). Entries known and unchanged, ignored or
   * already in the batch are left out; at most watchPendingPathsMax are looked
   * at (the rest come through the listings, as news rather than moves).
   */
  private async entriesUnder(dirs: readonly Seen[], inBatch: ReadonlySet<string>): Promise<Seen[]> {
    const out: Seen[] = [];
    const queue = dirs.map((d) => d.native);
    let looked = 0;
    while (queue.length > 0 && looked < watchPendingPathsMax) {
      const dir = queue.shift() as string;
      const names = await readdir(dir).catch(() => [] as string[]);
      for (const name of names) {
        if (isTempName(name) || ++looked > watchPendingPathsMax) continue;
        const native = path.join(dir, name);
        const p = this.syncPathOf(native);
        if (p === '' || p === null || inBatch.has(p)) continue;
        const st = await lstatOrNull(native);
        if (st === null || typeOf(st) === null || this.options.ignore.ignores(p, st.isDirectory())) continue;
        if (st.isDirectory()) queue.push(native);
        const k = this.known.get(p);
        if (!(k !== undefined && unchangedOnDisk(k, st))) out.push({ path: p, native, st });
      }
    }
    return out;
  }

  /** A directory that is gone took what the engine knows under it along (a moved directory's watches report nothing more). */
  private addGoneDescendants(gone: DiskEntry[], looked: ReadonlySet<string>): void {
    const prefixes = gone.filter((g) => g.type === 'directory').map((g) => `${g.path}/`);
    if (prefixes.length === 0) return;
    for (const [p, k] of this.known) {
      if (!looked.has(p) && prefixes.some((prefix) => p.startsWith(prefix))) gone.push(k);
    }
  }

  /**
   * Each path as it is now, through SharedFolder.resolve: a path under a
   * directory that became a symlink is gone, never followed outside the folder.
   */
  private async lookAll(batch: [SyncPath, string][]): Promise<{ path: SyncPath; native: string; st: Stats | null }[]> {
    const verified = new Set<string>();
    const look = async ([p, fallback]: [SyncPath, string]): Promise<{ path: SyncPath; native: string; st: Stats | null }> => {
      try {
        const native = await this.folder.resolve(p, verified);
        return { path: p, native, st: await lstatOrNull(native) };
      } catch (e) {
        if (!isPloppyError(e, 'PATH_ESCAPES_FOLDER') && !isPloppyError(e, 'PATH_INVALID')) throw e;
        return { path: p, native: fallback, st: null };
      }
    };
    const out: { path: SyncPath; native: string; st: Stats | null }[] = [];
    for (let i = 0; i < batch.length; i += lookConcurrency) out.push(...(await Promise.all(batch.slice(i, i + lookConcurrency).map(look))));
    return out;
  }

  /** Entries for new or changed paths; a file caught mid-write is looked at again later. */
  private async observeAll(seen: Seen[]): Promise<DiskEntry[]> {
    const out = await Promise.all(seen.map(async (s) => {
      try {
        return await observe(s.path, s.native, this.options.pool);
      } catch (e) {
        if (isPloppyError(e, 'FS_ERROR')) this.pending.set(s.path, s.native);
        return null;
      }
    }));
    return out.filter((e): e is DiskEntry => e !== null);
  }

  private report(moves: Move[], observed: DiskEntry[], gone: DiskEntry[]): void {
    const movedTo = new Set(moves.map((m) => m.to.path));
    const movedFrom = new Set(moves.map((m) => m.from.path));
    const creations: { at: string; change: LocalChange }[] = [];
    const entries = new Map<SyncPath, DiskEntry | null>();
    for (const m of moves) {
      creations.push({ at: m.to.path, change: { kind: 'moved', from: m.from.path, to: m.to.path } });
      if (!sameContent(m.from, m.to)) creations.push({ at: `${m.to.path}\0`, change: { kind: 'changed', observation: observationOf(m.to) } });
      this.known.delete(m.from.path);
      this.known.set(m.to.path, m.to);
      entries.set(m.from.path, null);
      entries.set(m.to.path, m.to);
    }
    for (const e of observed) {
      if (movedTo.has(e.path)) continue;
      creations.push({ at: e.path, change: { kind: 'changed', observation: observationOf(e) } });
      this.known.set(e.path, e);
      entries.set(e.path, e);
    }
    const deletions = gone.filter((g) => !movedFrom.has(g.path) && !entries.has(g.path)).map((g) => g.path).sort().reverse();
    for (const p of deletions) {
      this.known.delete(p);
      entries.set(p, null);
    }
    creations.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
    const changes = [...creations.map((c) => c.change), ...deletions.map((p): LocalChange => ({ kind: 'deleted', path: p }))];
    if (changes.length > 0 && !this.closed) this.options.onChanges(changes, entries);
  }
}

/** Stat-level equality with what the engine knows (directories: only the mode syncs). */
function unchangedOnDisk(k: DiskEntry, st: Stats): boolean {
  const type = typeOf(st);
  if (type !== k.type || ownerBits(st.mode) !== k.mode) return false;
  if (type === 'directory') return true;
  if (type === 'symlink') return st.ino === k.ino && sameMtime(st.mtimeMs, k.mtimeMs);
  return st.ino === k.ino && st.size === k.size && sameMtime(st.mtimeMs, k.mtimeMs);
}

/** A vanished entry and an appeared one with the same inode, type, size and mtime: one rename. */
function movesByInode(gone: DiskEntry[], present: Seen[]): { moves: Move[]; rest: Seen[] } {
  const byInode = new Map(gone.map((g) => [g.ino, g]));
  const moves: Move[] = [];
  const rest: Seen[] = [];
  for (const s of present) {
    const g = byInode.get(s.st.ino);
    const type = typeOf(s.st);
    const same = g !== undefined && g.type === type &&
      (type === 'directory' || (sameMtime(g.mtimeMs, s.st.mtimeMs) && (type === 'symlink' || g.size === s.st.size)));
    if (g === undefined || !same) {
      rest.push(s);
      continue;
    }
    byInode.delete(s.st.ino);
    moves.push({ from: g, to: { ...g, path: s.path, mode: ownerBits(s.st.mode), mtimeMs: s.st.mtimeMs, ino: s.st.ino } });
  }
  return { moves, rest };
}

/** A new file whose blocks equal a vanished file's (a copy-then-delete rename). */
function movesByContent(gone: DiskEntry[], observed: DiskEntry[], inodeMoves: Move[], known: ReadonlyMap<string, DiskEntry>): Move[] {
  const taken = new Set(inodeMoves.map((m) => m.from.path));
  const byContent = new Map<string, DiskEntry>();
  for (const g of gone) if (g.type === 'file' && g.size > 0 && !taken.has(g.path)) byContent.set(`${g.size}:${g.blocks.join(',')}`, g);
  const moves: Move[] = [];
  for (const e of observed) {
    if (e.type !== 'file' || known.has(e.path)) continue;
    const key = `${e.size}:${e.blocks.join(',')}`;
    const g = byContent.get(key);
    if (g === undefined) continue;
    byContent.delete(key);
    moves.push({ from: g, to: e });
  }
  return moves;
}

