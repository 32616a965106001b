/**
 * The watcher's event source: chokidar 5 over the shared folder. It only says
 * which paths may have changed; the Watcher looks at each one (lstat) after its
 * debounce, so chokidar's own event kinds and order do not matter.
 *
 * Theory of operation
 * - chokidar tracks directories only. Left to itself it also puts an fs.watch
 *   on every file, stats each new file, and re-reads (readdir plus an lstat
 *   per entry) the whole directory around each event: on a peer receiving
 *   20,000 small files that walking cost more CPU than the transfer itself.
 *   Files are refused in chokidar's `ignored` callback instead (it is called
 *   with the entry's lstat, which chokidar's directory listing already made).
 * - Files are still seen: the fs.watch of their directory reports every
 *   creation, removal, rename, write and chmod of an entry by name (inotify
 *   watches a directory's entries), and those raw events are passed on.
 * - A file that was in a directory before its watch began (a directory moved
 *   in, or filled before chokidar read it) is seen when chokidar lists that
 *   directory: each file listed after the initial walk is offered to
 *   `onListed` with its lstat, and the Watcher keeps only those that differ
 *   from what it knows (so re-listing a directory the applier is filling
 *   reports nothing).
 * - Temp files and ignored paths are filtered by name or rule before anything
 *   else.
 */
import type { Stats } from 'node:fs';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';

/** What the owner of a source provides. */
export interface PathSourceOptions {
  /** A path (absolute, native) that may have changed. */
  readonly onPath: (native: string) => void;
  /** A file or symlink seen in a directory listing after the initial walk, with its lstat. */
  readonly onListed: (native: string, st: Stats) => void;
  /** Watching failed in a way that can hide changes: the caller should rescan. */
  readonly onError: (reason: string) => void;
  /** Directories never entered (ignored paths). */
  readonly ignored: (native: string, isDirectory: boolean) => boolean;
  /** Cheap name-only filter applied before anything else. */
  readonly ignoredName: (name: string) => boolean;
}

export class ChokidarSource {
  private watcher: FSWatcher | null = null;
  /** Set once the initial walk is over: listings after it can reveal files nobody reported. */
  private ready = false;

  constructor(
    private readonly root: string,
    private readonly options: PathSourceOptions,
  ) {}

  /** Start watching; resolves once chokidar has read the tree. */
  async start(): Promise<void> {
    const { onPath, onError } = this.options;
    const w = watch(this.root, {
      ignoreInitial: true, followSymlinks: false, atomic: false, alwaysStat: false, persistent: true,
      ignored: (native: string, stats?: Stats) => this.skip(native, stats),
    });
    this.watcher = w;
    for (const event of ['add', 'addDir', 'change', 'unlink'] as const) w.on(event, (native: string) => onPath(native));
    w.on('unlinkDir', (native: string) => {
      if (native === this.root) onError('the shared folder itself was removed');
      else onPath(native);
    });
    w.on('raw', (event: string, name: unknown, details: unknown) => this.raw(event, name, details));
    w.on('error', (e: unknown) => onError(`watcher error: ${e instanceof Error ? e.message : String(e)}`));
    await new Promise<void>((resolve) => w.once('ready', () => resolve()));
    this.ready = true;
  }

  async close(): Promise<void> {
    const w = this.watcher;
    this.watcher = null;
    this.ready = false;
    await w?.close();
  }

  /** A directory's fs.watch event: the entry it names may have changed (and, for a chmod, the directory itself). */
  private raw(event: string, name: unknown, details: unknown): void {
    const watched = (details as { watchedPath?: unknown } | undefined)?.watchedPath;
    if ((event !== 'change' && event !== 'rename') || typeof watched !== 'string') return;
    if (event === 'change' && watched !== this.root) this.options.onPath(watched);
    if (typeof name === 'string' && name !== '' && !this.options.ignoredName(name)) this.options.onPath(path.join(watched, name));
  }

  private skip(native: string, stats?: Stats): boolean {
    if (native === this.root) return false;
    if (this.options.ignoredName(path.basename(native))) return true;
    if (stats !== undefined && !stats.isDirectory()) {
      if (this.ready && this.watcher !== null) this.options.onListed(native, stats);
      return true;
    }
    return this.options.ignored(native, stats?.isDirectory() ?? false);
  }
}
