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
 * - chokidar re-reads a directory around every event in it, to find new
 *   subdirectories and vanished entries. Once a directory has been listed, a
 *   re-read waits watchRereadDelayMs and the events meanwhile join it
 *   (deferRereads): a peer renaming 20 files into a directory had it listed
 *   about five times, now once or twice. Files do not wait for it (their raw
 *   events are passed on at once); a new subdirectory is watched up to that
 *   much later, and the Watcher lists it itself when it is seen (Watcher.relist).
 */
import type { Stats } from 'node:fs';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { watchRereadDelayMs } from '../core/constants.js';

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
  /** Whether chokidar's re-reads are deferred (false if its internals changed shape: see deferRereads). */
  rereadsDeferred = false;

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
    this.rereadsDeferred = deferRereads(w, watchRereadDelayMs, () => this.ready);
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

/** The shape of chokidar 5's directory reader (NodeFsHandler._handleRead), which deferRereads wraps. */
type HandleRead = (directory: string, initialAdd: boolean, ...rest: unknown[]) => Promise<void> | undefined;

/**
 * Make chokidar's re-reads of a directory it has listed before wait `delayMs`,
 * the requests meanwhile joining one re-read (see the theory of operation).
 * Before `ready` (the initial walk) and for a directory's first listing,
 * reads run at once. This reaches into chokidar's NodeFsHandler; when that is
 * not shaped as expected (another chokidar version) nothing changes and this
 * returns false (a unit test checks it returns true with the installed one).
 */
function deferRereads(w: FSWatcher, delayMs: number, ready: () => boolean): boolean {
  const handler = (w as unknown as { _nodeFsHandler?: { _handleRead?: unknown } })._nodeFsHandler;
  if (handler === undefined || typeof handler._handleRead !== 'function') return false;
  const read = (handler._handleRead as HandleRead).bind(handler);
  const listed = new Set<string>();
  const waiting = new Map<string, unknown[]>();
  handler._handleRead = (directory: string, initialAdd: boolean, ...rest: unknown[]): Promise<void> | undefined => {
    if (!ready() || initialAdd || !listed.has(directory)) {
      listed.add(directory);
      return read(directory, initialAdd, ...rest);
    }
    if (!waiting.has(directory)) {
      setTimeout(() => {
        const args = waiting.get(directory);
        waiting.delete(directory);
        if (args !== undefined && !w.closed) void read(directory, false, ...args);
      }, delayMs).unref();
    }
    waiting.set(directory, rest); // the latest arguments (the same helpers each time)
    return undefined;
  };
  return true;
}
