/**
 * The watcher's event source: chokidar 5 over the shared folder. It only says
 * which paths may have changed; the Watcher looks at each one (lstat) after its
 * debounce, so chokidar's own event kinds and order do not matter.
 *
 * chokidar reports a change only when the mtime moves and a chmod moves only
 * the ctime, so fs.watch's raw 'change' events are passed on as well. Temp
 * files and ignored paths are filtered in chokidar's `ignored` callback, before
 * it stats anything.
 */
import type { Stats } from 'node:fs';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';

/** What the owner of a source provides. */
export interface PathSourceOptions {
  /** A path (absolute, native) that may have changed. */
  readonly onPath: (native: string) => void;
  /** Watching failed in a way that can hide changes: the caller should rescan. */
  readonly onError: (reason: string) => void;
  /** Entries never reported or entered (temp files, ignored paths). */
  readonly ignored: (native: string, isDirectory: boolean) => boolean;
  /** Cheap name-only filter applied before anything else. */
  readonly ignoredName: (name: string) => boolean;
}

export class ChokidarSource {
  private watcher: FSWatcher | null = null;

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
    w.on('raw', (event: string, name: string, details: unknown) => {
      const watched = (details as { watchedPath?: unknown } | undefined)?.watchedPath;
      if (event !== 'change' || typeof watched !== 'string') return;
      if (watched !== this.root) onPath(watched);
      if (typeof name === 'string' && name !== '' && !this.options.ignoredName(name)) onPath(path.join(watched, name));
    });
    w.on('error', (e: unknown) => onError(`watcher error: ${e instanceof Error ? e.message : String(e)}`));
    await new Promise<void>((resolve) => w.once('ready', () => resolve()));
  }

  async close(): Promise<void> {
    const w = this.watcher;
    this.watcher = null;
    await w?.close();
  }

  private skip(native: string, stats?: Stats): boolean {
    if (native === this.root) return false;
    if (this.options.ignoredName(path.basename(native))) return true;
    return this.options.ignored(native, stats?.isDirectory() ?? false);
  }
}
