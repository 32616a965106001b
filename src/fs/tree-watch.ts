/**
 * TreeWatch: which paths under a folder may have changed, from one fs.watch
 * (inotify) handle per directory. It says nothing about what changed: the
 * Watcher looks at every path it is given (lstat) after its debounce.
 *
 * Theory of operation
 * - start() walks the tree once and watches every directory (never through a
 *   symlink, never into an ignored directory).
 * - An event names an entry of a watched directory: that path is passed on.
 *   Names the caller never wants (temp files) are dropped before anything
 *   else, so the applier's temporary files cost a string test per event.
 * - Only a 'rename' event (created, deleted, moved in or out) can make or end
 *   a directory, so only those pay for an lstat: a directory that appeared is
 *   watched and walked, and everything found in it is passed on (entries made
 *   before its watch started would otherwise go unseen); a directory that
 *   vanished has its watches (its own and those below it) closed.
 * - A watch that fails on a directory that still exists, or on the root, is
 *   reported (the caller rescans); one on a directory that is gone is closed.
 *
 * Why not chokidar: on every event it re-reads the whole directory and stats
 * each entry, so writing 20,000 small files cost hundreds of thousands of
 * lstat calls.
 */
import { lstatSync, readdirSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { errnoOf, isNotFound } from './folder.js';

/** What the owner of a TreeWatch provides. */
export interface TreeWatchOptions {
  /** A path (absolute, native) that may have changed. */
  readonly onPath: (native: string) => void;
  /** Watching failed in a way that can hide changes: the caller should rescan. */
  readonly onError: (reason: string) => void;
  /** Entries never reported or entered (temp files, ignored paths). `isDirectory` is known when walking. */
  readonly ignored: (native: string, isDirectory: boolean) => boolean;
  /** Cheap name-only filter applied to every event before anything else. */
  readonly ignoredName: (name: string) => boolean;
}

export class TreeWatch {
  private readonly watchers = new Map<string, FSWatcher>();
  private closed = false;

  constructor(private readonly root: string, private readonly options: TreeWatchOptions) {}

  /** Watch the whole tree (synchronously: every directory has its watch when this returns). */
  start(): void {
    this.watchTree(this.root, false);
  }

  /** Number of directories watched (for tests and status). */
  get directories(): number {
    return this.watchers.size;
  }

  close(): void {
    this.closed = true;
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }

  /** Watch `dir` and every directory below it; with `report`, pass on every entry found. */
  private watchTree(dir: string, report: boolean): void {
    if (this.closed || this.watchers.has(dir)) return;
    if (!this.watchOne(dir)) return;
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      if (isNotFound(e)) return this.forget(dir);
      return this.options.onError(`cannot read ${dir}: ${errnoOf(e) ?? String(e)}`);
    }
    for (const entry of entries) {
      if (this.options.ignoredName(entry.name)) continue;
      const native = path.join(dir, entry.name);
      const isDirectory = entry.isDirectory();
      if (this.options.ignored(native, isDirectory)) continue;
      if (report) this.options.onPath(native);
      if (isDirectory) this.watchTree(native, report);
    }
  }

  private watchOne(dir: string): boolean {
    let w: FSWatcher;
    try {
      w = watch(dir, { persistent: true }, (event, name) => this.event(dir, event, name));
    } catch (e) {
      if (isNotFound(e)) return false;
      this.options.onError(`cannot watch ${dir}: ${errnoOf(e) ?? String(e)}`);
      return false;
    }
    w.on('error', (e: unknown) => this.failed(dir, e));
    this.watchers.set(dir, w);
    return true;
  }

  private event(dir: string, event: string, name: string | Buffer | null): void {
    if (this.closed) return;
    if (name === null || name === '') {
      this.options.onPath(dir); // the directory itself (e.g. its mode)
      return;
    }
    const base = typeof name === 'string' ? name : name.toString('utf8');
    if (this.options.ignoredName(base)) return;
    const native = path.join(dir, base);
    if (event === 'rename') {
      if (base === path.basename(dir) && this.selfGone(dir)) return;
      this.renamed(native);
    }
    this.options.onPath(native);
  }

  /** inotify names a watched directory that was itself removed by its own name. */
  private selfGone(dir: string): boolean {
    try {
      lstatSync(dir);
      return false;
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    this.forget(dir);
    if (dir === this.root) this.options.onError('the shared folder itself was removed');
    else this.options.onPath(dir);
    return true;
  }

  /** Created, deleted or moved: start or stop watching if it is (or was) a directory. */
  private renamed(native: string): void {
    let isDirectory: boolean;
    try {
      isDirectory = lstatSync(native).isDirectory();
    } catch (e) {
      if (!isNotFound(e)) throw e;
      this.forget(native);
      return;
    }
    if (!isDirectory) {
      if (this.watchers.has(native)) this.forget(native); // a directory replaced by a file
      return;
    }
    if (!this.watchers.has(native) && !this.options.ignored(native, true)) this.watchTree(native, true);
  }

  /** Close the watches of `dir` and every directory below it. */
  private forget(dir: string): void {
    const prefix = dir + path.sep;
    for (const [watched, w] of this.watchers) {
      if (watched !== dir && !watched.startsWith(prefix)) continue;
      w.close();
      this.watchers.delete(watched);
    }
  }

  private failed(dir: string, e: unknown): void {
    let there = false;
    try {
      there = lstatSync(dir).isDirectory();
    } catch {
      there = false;
    }
    if (dir !== this.root && !there) return this.forget(dir);
    this.forget(dir);
    this.options.onError(`watching ${dir} failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}
