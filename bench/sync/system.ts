/**
 * The machine side of the sync benchmark: loopback-only network namespaces,
 * the page cache, processes we start, and what /proc says about them.
 *
 * Every process the benchmark starts is remembered here by pid and stopped by
 * that pid only (never by name); a pid is forgotten once it has been reaped,
 * so a recycled pid is never signalled. On exit or interrupt every namespace
 * we made is deleted and every process we started is killed.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const started = new Set<ChildProcess>();
const namespaces = new Set<string>();

/** Ticks per second of utime/stime in /proc/PID/stat. */
const clockTicksPerSecond = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

function cleanupEverything(): void {
  for (const child of started) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  for (const ns of namespaces) spawnSync('ip', ['netns', 'del', ns]);
}
process.on('exit', cleanupEverything);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    cleanupEverything();
    process.exit(130);
  });
}

export const isRoot = (): boolean => process.getuid?.() === 0;

export const hasCommand = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** A network namespace holding only `lo` (up): nothing inside can reach another machine. */
export class LoopbackNamespace {
  private constructor(readonly name: string) {}

  static create(label: string): LoopbackNamespace {
    const name = `ppbench-${process.pid}-${label}`;
    execFileSync('ip', ['netns', 'add', name]);
    namespaces.add(name);
    execFileSync('ip', ['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);
    const links = execFileSync('ip', ['netns', 'exec', name, 'ip', '-o', 'link', 'show'], { encoding: 'utf8' });
    const names = links.split('\n').filter((l) => l.trim() !== '').map((l) => l.split(':')[1]?.trim());
    if (names.length !== 1 || names[0] !== 'lo') throw new Error(`namespace ${name} has links other than lo: ${names.join(', ')}`);
    return new LoopbackNamespace(name);
  }

  /** Prefix that runs a command inside the namespace (`ip netns exec` execs it: the pid is the command's). */
  get prefix(): string[] {
    return ['ip', 'netns', 'exec', this.name];
  }

  delete(): void {
    spawnSync('ip', ['netns', 'del', this.name]);
    namespaces.delete(this.name);
  }
}

/** Write everything out and empty the page cache, so the timed phase reads from disk. False when not permitted. */
export function dropCaches(): boolean {
  execFileSync('sync');
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3');
    return true;
  } catch {
    return false;
  }
}

export interface StartOptions {
  readonly prefix?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly logFile: string;
  readonly cwd?: string;
}

/** Start a long-running process with its output appended to a log file. */
export function startProcess(cmd: string, args: readonly string[], options: StartOptions): ChildProcess {
  const prefix = options.prefix ?? [];
  const argv = [...prefix, cmd, ...args];
  const log = openSync(options.logFile, 'a');
  const child = spawn(argv[0] as string, argv.slice(1), {
    stdio: ['ignore', log, log],
    env: { ...process.env, ...options.env },
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
  });
  closeSync(log);
  started.add(child);
  child.once('exit', () => started.delete(child));
  return child;
}

export const exited = (child: ChildProcess): boolean => child.exitCode !== null || child.signalCode !== null;

/** Resolve with the exit code (or 128+signal) once the child has exited. */
export function waitExit(child: ChildProcess): Promise<number> {
  if (exited(child)) return Promise.resolve(child.exitCode ?? 128);
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 128))));
}

/** SIGTERM, then SIGKILL if it is still there after `graceMs`. */
export async function stopProcess(child: ChildProcess, graceMs = 20_000): Promise<void> {
  if (exited(child)) return;
  child.kill('SIGTERM');
  const done = waitExit(child);
  const late = await Promise.race([done.then(() => false), sleep(graceMs).then(() => true)]);
  if (late && !exited(child)) {
    child.kill('SIGKILL');
    await done;
  }
}

/** Run a command to completion; throw with its output when it fails. */
export function runChecked(cmd: string, args: readonly string[], options: { prefix?: readonly string[]; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): string {
  const argv = [...(options.prefix ?? []), cmd, ...args];
  const r = spawnSync(argv[0] as string, argv.slice(1), {
    encoding: 'utf8',
    env: { ...process.env, ...options.env },
    timeout: options.timeoutMs ?? 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}${r.stdout}`.slice(0, 4000));
  return r.stdout;
}

// ---------------------------------------------------------------- /proc

function readProc(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Fields of /proc/PID/stat after the command name (which may hold spaces). */
function statFields(pid: number): string[] | null {
  const text = readProc(`/proc/${pid}/stat`);
  if (text === null) return null;
  return text.slice(text.lastIndexOf(')') + 2).trim().split(' ');
}

/** user+system CPU seconds of one live process (its threads included), or null when gone. */
export function cpuSeconds(pid: number): number | null {
  const f = statFields(pid);
  if (f === null) return null;
  // After the name: state(0) ppid(1) ... utime(11) stime(12)
  return (Number(f[11]) + Number(f[12])) / clockTicksPerSecond;
}

/** Peak resident set (VmHWM) of a live process in MiB, or null when gone. */
export function peakRssMb(pid: number): number | null {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readProc(`/proc/${pid}/status`) ?? '');
  return m === null ? null : Number(m[1]) / 1024;
}

/** Start a new peak: VmHWM drops to the current RSS (clear_refs 5). */
export function resetPeakRss(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    /* not permitted or gone: the peak then covers the process's whole life */
  }
}

/** The pid and all its live descendants. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(Number(name));
    if (f === null) continue;
    const ppid = Number(f[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
  }
  const out: number[] = [];
  const visit = (pid: number): void => {
    if (!existsSync(`/proc/${pid}`)) return;
    out.push(pid);
    for (const c of children.get(pid) ?? []) visit(c);
  };
  visit(root);
  return out;
}

/** CPU seconds and the largest VmHWM over a process tree (a peer may be several processes). */
export function treeUsage(root: number): { cpuSeconds: number; peakRssMb: number } {
  let cpu = 0;
  let peak = 0;
  for (const pid of processTree(root)) {
    cpu += cpuSeconds(pid) ?? 0;
    peak = Math.max(peak, peakRssMb(pid) ?? 0);
  }
  return { cpuSeconds: cpu, peakRssMb: peak };
}

export function resetTreePeakRss(root: number): void {
  for (const pid of processTree(root)) resetPeakRss(pid);
}

/**
 * Bytes transmitted on `lo` in the network namespace of `pid` (/proc/PID/net
 * is that process's namespace). With only loopback in the namespace this is
 * every byte the peers sent each other, TCP/IP headers included.
 */
export function loopbackBytesSent(pid: number): number | null {
  const text = readProc(`/proc/${pid}/net/dev`);
  if (text === null) return null;
  for (const line of text.split('\n')) {
    const m = /^\s*lo:\s*(.*)$/.exec(line);
    if (m === null) continue;
    const cols = (m[1] as string).trim().split(/\s+/).map(Number);
    return cols[8] ?? null; // receive: bytes packets errs drop fifo frame compressed multicast; then transmit bytes
  }
  return null;
}

/** Resolve once every process tree has used no CPU for `quietMs` (both peers idle), or after `timeoutMs`. */
export async function waitQuiet(roots: readonly number[], quietMs = 1_000, timeoutMs = 60_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const total = (): number => roots.reduce((s, r) => s + treeUsage(r).cpuSeconds, 0);
  let last = total();
  let since = Date.now();
  while (Date.now() < deadline) {
    await sleep(100);
    const now = total();
    if (now > last + 0.015) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return true;
  }
  return false;
}
