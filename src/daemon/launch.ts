/**
 * Starting a daemon in the foreground or detached, and waiting for it.
 *
 * Detached: the CLI re-runs itself as `ploppy start --name N --home H` in a
 * new session with its output appended to the network's daemon.log, then polls
 * the control socket until the daemon answers with its listen address (or the
 * child exits, in which case the log's tail says why).
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PloppyError, isPloppyError } from '../core/errors.js';
import type { NetworkPaths } from '../cli/home.js';
import { callControl } from './control.js';

export interface DaemonHello {
  readonly name: string;
  readonly peer: string;
  readonly address: string;
  readonly dir: string;
  readonly pid: number;
}

// src/daemon/launch.ts, or dist/src/daemon/launch.js in the compiled build: one level deeper.
const binPath = fileURLToPath(new URL(`${import.meta.url.includes('/dist/src/') ? '../../../' : '../../'}bin/ploppy.js`, import.meta.url));
const detachWaitMs = 30_000;
const pollIntervalMs = 50;

/** The daemon's hello, or null when none is running. */
export async function daemonHello(paths: NetworkPaths): Promise<DaemonHello | null> {
  try {
    return (await callControl(paths.socket, { op: 'hello' })) as DaemonHello;
  } catch (e) {
    if (isPloppyError(e, 'DAEMON_NOT_RUNNING')) return null;
    throw e;
  }
}

export async function assertNotRunning(paths: NetworkPaths): Promise<void> {
  const hello = await daemonHello(paths);
  if (hello !== null) throw new PloppyError('DAEMON_RUNNING', `network ${paths.name} is already running (pid ${hello.pid}, listening on ${hello.address})`);
}

/**
 * How a daemon process is run. A daemon allocates at a high rate: a small
 * young generation keeps V8 from growing it to 32 MiB (scavenges stay cheap:
 * little survives them); two malloc arenas, and a fixed mmap threshold (so a
 * freed block-sized allocation goes back to the system at once), keep glibc
 * from holding freed memory. Together they take a busy daemon's peak RSS down
 * by a few tens of megabytes. Eight thread-pool threads (libuv's default is
 * four) keep the log's group commits from queueing behind file fsyncs.
 */
export const daemonNodeFlags: readonly string[] = ['--max-semi-space-size=4'];

/** The environment of a daemon process: the caller's, with the settings above unless set already. */
export function daemonEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072', UV_THREADPOOL_SIZE: '8', ...base };
}

export async function startDetached(paths: NetworkPaths, home: string): Promise<DaemonHello> {
  const logFd = openSync(paths.daemonLog, 'a');
  const child = spawn(process.execPath, [...daemonNodeFlags, binPath, 'start', '--name', paths.name, '--home', home], {
    detached: true,
    stdio: ['ignore', logFd, logFd],
    env: daemonEnv(),
  });
  closeSync(logFd);
  let exited: number | null = null;
  child.on('exit', (code) => {
    exited = code ?? 1;
  });
  child.unref();
  const deadline = Date.now() + detachWaitMs;
  while (Date.now() < deadline) {
    if (exited !== null) break;
    const hello = await daemonHello(paths);
    if (hello !== null) return hello;
    await new Promise((r) => setTimeout(r, pollIntervalMs));
  }
  const tail = existsSync(paths.daemonLog) ? readFileSync(paths.daemonLog, 'utf8').split('\n').slice(-8).join('\n') : '';
  throw new PloppyError('DAEMON_NOT_RUNNING', `the daemon did not start${exited !== null ? ` (exit code ${exited})` : ''}; ${paths.daemonLog} ends with:\n${tail}`);
}
