/**
 * Shared tail of create, join and start: run the daemon in the foreground
 * until interrupted (shutting down cleanly), or detached (return once it
 * listens, printing its address).
 */
import { startDetached, assertNotRunning } from '../daemon/launch.js';
import type { NetworkPaths } from './home.js';
import { emit } from './render.js';

export interface RunOptions {
  readonly home: string;
  readonly detach: boolean;
  readonly json: boolean;
  /** Extra lines printed once the address is known (e.g. the join command). */
  readonly banner?: (address: string) => string[];
  /** Extra fields of the --json line. */
  readonly extra?: Record<string, unknown>;
}

export async function runDaemon(paths: NetworkPaths, options: RunOptions): Promise<number> {
  await assertNotRunning(paths);
  if (options.detach) {
    const hello = await startDetached(paths, options.home);
    announce(paths, hello.address, hello.pid, options);
    return 0;
  }
  const { Daemon } = await import('../daemon/daemon.js');
  const daemon = await Daemon.start(paths);
  announce(paths, daemon.address, process.pid, options);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    daemon.onStopped(stop);
  });
  await daemon.stop();
  return 0;
}

function announce(paths: NetworkPaths, address: string, pid: number, options: RunOptions): void {
  const extra = options.banner?.(address) ?? [];
  emit(options.json, { name: paths.name, address, pid, detached: options.detach, ...options.extra }, () =>
    [`ploppy: network ${paths.name} listening on ${address} (pid ${pid})`, ...extra].join('\n'),
  );
}
