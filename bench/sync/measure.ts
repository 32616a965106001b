/**
 * How each dataset is measured, for every tool the same way.
 *
 * A continuous tool (ploppy, Syncthing) is a pair of daemons, A holding the
 * data and B empty:
 * - initial (large, small, mixed): both peers are configured while idle, A is
 *   filled with freshly written data, the page cache is dropped, the clock
 *   starts just before both daemons are launched and stops at the first look
 *   at which B is identical (start-up is included);
 * - edit: `large` is synced untimed, both peers go quiet, the cache is dropped,
 *   the clock starts just before the edit is written into A (Syncthing is then
 *   told to rescan; ploppy's watcher has to notice by itself);
 * - live: `tiny` is synced, then each trial renames a new 1 KiB file into A and
 *   times until B holds it; the figure is the median.
 * A one-shot tool (rsync) is timed from the client's start to its exit, and B
 * is checked afterwards.
 *
 * Every figure covers the timed phase only: CPU seconds are differences of
 * /proc counters, peak RSS is VmHWM after a reset at the start of the phase
 * (initial phases: the whole life), bytes are what crossed `lo` in the run's
 * namespace.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { applyEdit, editPatches, generate, liveFileBytes, type InitialDataset } from './dataset.js';
import { dropCaches, loopbackBytesSent, LoopbackNamespace, resetTreePeakRss, runChecked, treeUsage, waitQuiet } from './system.js';
import { reference, waitIdentical, type Reference } from './tree.js';

export type ToolName = 'ploppy' | 'rsync' | 'syncthing';
export type DatasetName = 'large' | 'small' | 'mixed' | 'edit' | 'live';

/** What one tool did on one dataset. */
export interface Measurement {
  readonly seconds: number;
  readonly bytesSent: number | null;
  /** The larger of the two peers' peaks. */
  readonly peakRssMb: number;
  readonly peakRssMbA: number;
  readonly peakRssMbB: number;
  readonly cpuSeconds: number;
  readonly cpuSecondsA: number;
  readonly cpuSecondsB: number;
  /** live: every trial's latency, in order. */
  readonly trials?: readonly number[];
  /** edit: the untimed sync of `large` before the edit. */
  readonly baseSeconds?: number;
  /** Anything else worth knowing about the run (e.g. Syncthing's hello race). */
  readonly notes?: readonly string[];
}

export type Outcome = Measurement | { readonly error: string } | { readonly skipped: string };

/** The scratch space of one tool on one dataset. */
export interface RunDirs {
  readonly root: string;
  readonly a: string;
  readonly b: string;
  readonly ns: LoopbackNamespace;
  readonly dataset: DatasetName;
}

/** Two running peers of a continuous tool. */
export interface Pair {
  /** Process-tree roots of A and B. */
  readonly roots: readonly [number, number];
  /** Null while both run; otherwise why not (with the log's tail). */
  alive(): string | null;
  /** Tell A to look at its folder now (for tools whose watcher waits). */
  rescan?(): Promise<void>;
  /** Facts about the run worth reporting (checked before stopping). */
  notes?(): Promise<string[]>;
  stop(): Promise<void>;
}

export interface DaemonTool {
  readonly name: ToolName;
  readonly kind: 'daemon';
  /** Null when usable, otherwise why not. */
  unavailable(): string | null;
  /** Configure both peers for folders run.a and run.b (A may be empty). Untimed. */
  prepare(run: RunDirs): Promise<void>;
  start(run: RunDirs): Promise<Pair>;
}

/** The usage of a one-shot transfer, read when its processes have exited. */
export interface OneShotUsage {
  readonly peakRssMb: number;
  readonly cpuSeconds: number;
}

export interface Server {
  /** A process inside the namespace (for the loopback counters). */
  readonly pid: number;
  /** Stop and report the server side's usage (children included). */
  stop(): Promise<OneShotUsage>;
}

export interface OneShotTool {
  readonly name: ToolName;
  readonly kind: 'oneshot';
  unavailable(): string | null;
  startServer(run: RunDirs): Promise<Server>;
  /** Push A to B; resolves when the client exits. */
  push(run: RunDirs): Promise<OneShotUsage>;
}

export type Tool = DaemonTool | OneShotTool;

export interface MeasureOptions {
  readonly work: string;
  readonly liveTrials: number;
  readonly timeoutMs: number;
  readonly keep: boolean;
  readonly dropCaches: boolean;
  readonly log: (line: string) => void;
}

let runCounter = 0;

function newRun(tool: ToolName, dataset: DatasetName, o: MeasureOptions): RunDirs {
  runCounter++;
  const root = join(o.work, `${tool}-${dataset}-${runCounter}`);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  const ns = LoopbackNamespace.create(`${runCounter}`);
  return { root, a: join(root, 'A'), b: join(root, 'B'), ns, dataset };
}

/** Delete the namespace and, unless kept, everything but the tools' logs. */
function endRun(run: RunDirs, o: MeasureOptions): void {
  run.ns.delete();
  if (o.keep) return;
  for (const name of readdirSync(run.root)) {
    if (!name.endsWith('.log')) rmSync(join(run.root, name), { recursive: true, force: true });
  }
}

/** Bytes on lo so far, read by a short-lived process in the namespace (no peer may be running yet). */
function namespaceBytes(run: RunDirs): number {
  const text = runChecked('cat', ['/proc/net/dev'], { prefix: run.ns.prefix });
  const line = text.split('\n').find((l) => /^\s*lo:/.test(l));
  return Number(line?.split(':')[1]?.trim().split(/\s+/)[8] ?? NaN);
}

function coldCache(o: MeasureOptions): void {
  if (o.dropCaches && !dropCaches()) o.log('warning: cannot drop the page cache (not root?); timings read warm data');
}

export async function measure(tool: Tool, dataset: DatasetName, o: MeasureOptions): Promise<Outcome> {
  const reason = tool.unavailable();
  if (reason !== null) return { skipped: reason };
  if (tool.kind === 'oneshot' && dataset === 'live') return { skipped: 'a one-shot tool has no live sync' };
  const run = newRun(tool.name, dataset, o);
  try {
    if (tool.kind === 'oneshot') return await oneShot(tool, run, o);
    if (dataset === 'edit') return await edit(tool, run, o);
    if (dataset === 'live') return await live(tool, run, o);
    return await initial(tool, dataset, run, o);
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  } finally {
    endRun(run, o);
  }
}

// ---------------------------------------------------------------- continuous tools

interface Snapshot {
  readonly cpu: readonly [number, number];
  readonly bytes: number;
}

function snapshot(pair: Pair, bytesNow: number): Snapshot {
  return { cpu: [treeUsage(pair.roots[0]).cpuSeconds, treeUsage(pair.roots[1]).cpuSeconds], bytes: bytesNow };
}

function figures(pair: Pair, since: Snapshot, seconds: number): Measurement {
  const a = treeUsage(pair.roots[0]);
  const b = treeUsage(pair.roots[1]);
  const bytes = loopbackBytesSent(pair.roots[0]);
  const cpuA = a.cpuSeconds - since.cpu[0];
  const cpuB = b.cpuSeconds - since.cpu[1];
  return {
    seconds, bytesSent: bytes === null ? null : bytes - since.bytes,
    peakRssMb: Math.max(a.peakRssMb, b.peakRssMb), peakRssMbA: a.peakRssMb, peakRssMbB: b.peakRssMb,
    cpuSeconds: cpuA + cpuB, cpuSecondsA: cpuA, cpuSecondsB: cpuB,
  };
}

async function withNotes(pair: Pair, m: Measurement): Promise<Measurement> {
  const notes = (await pair.notes?.()) ?? [];
  return notes.length === 0 ? m : { ...m, notes };
}

async function initial(tool: DaemonTool, dataset: InitialDataset, run: RunDirs, o: MeasureOptions): Promise<Outcome> {
  mkdirSync(run.a, { recursive: true });
  mkdirSync(run.b, { recursive: true });
  await tool.prepare(run);
  o.log(`  ${tool.name} ${dataset}: writing the dataset`);
  generate(dataset, run.a);
  const ref = reference(run.a);
  const bytes0 = namespaceBytes(run);
  coldCache(o);
  o.log(`  ${tool.name} ${dataset}: timing`);
  const t0 = performance.now();
  const pair = await tool.start(run);
  try {
    const t1 = await waitIdentical(ref, run.b, { timeoutMs: o.timeoutMs, mtimes: false, alive: () => pair.alive() });
    const since: Snapshot = { cpu: [0, 0], bytes: bytes0 };
    return await withNotes(pair, figures(pair, since, (t1 - t0) / 1000));
  } finally {
    await pair.stop();
  }
}

/** Start the pair on data already in A and wait until B has it all and both are quiet. Returns the seconds it took. */
async function baseSync(tool: DaemonTool, dataset: InitialDataset, run: RunDirs, o: MeasureOptions): Promise<{ pair: Pair; seconds: number }> {
  mkdirSync(run.a, { recursive: true });
  mkdirSync(run.b, { recursive: true });
  await tool.prepare(run);
  generate(dataset, run.a);
  const ref = reference(run.a);
  o.log(`  ${tool.name}: prepared; starting`);
  const t0 = performance.now();
  const pair = await tool.start(run);
  try {
    const t1 = await waitIdentical(ref, run.b, { timeoutMs: o.timeoutMs, mtimes: false, alive: () => pair.alive() });
    o.log(`  ${tool.name}: B identical after ${((t1 - t0) / 1000).toFixed(2)} s`);
    if (!(await waitQuiet(pair.roots, 1_000, 120_000))) o.log(`  ${tool.name}: peers still busy after the base sync; going on`);
    return { pair, seconds: (t1 - t0) / 1000 };
  } catch (e) {
    await pair.stop();
    throw e;
  }
}

function startPhase(pair: Pair): Snapshot {
  for (const root of pair.roots) resetTreePeakRss(root);
  return snapshot(pair, loopbackBytesSent(pair.roots[0]) ?? 0);
}

async function edit(tool: DaemonTool, run: RunDirs, o: MeasureOptions): Promise<Outcome> {
  o.log(`  ${tool.name} edit: base sync of large`);
  const { pair, seconds: baseSeconds } = await baseSync(tool, 'large', run, o);
  try {
    const patches = editPatches();
    const expected = reference(run.a, patches);
    coldCache(o);
    const since = startPhase(pair);
    o.log(`  ${tool.name} edit: timing`);
    const t0 = performance.now();
    applyEdit(run.a);
    const ref: Reference = { digest: expected.digest, listing: new Map([...expected.listing].map(([p, f]) => [p, patches.has(p) ? { ...f, mtimeMs: statSync(join(run.a, p)).mtimeMs } : f])) };
    await pair.rescan?.();
    const t1 = await waitIdentical(ref, run.b, { timeoutMs: o.timeoutMs, mtimes: true, alive: () => pair.alive() });
    return await withNotes(pair, { ...figures(pair, since, (t1 - t0) / 1000), baseSeconds });
  } finally {
    await pair.stop();
  }
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

/** Poll B every few ms until the file is there with the right bytes. */
async function waitFile(path: string, data: Buffer, pair: Pair, timeoutMs: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    try {
      if (statSync(path).size === data.length && readFileSync(path).equals(data)) return performance.now();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const gone = pair.alive();
    if (gone !== null) throw new Error(gone);
    if (performance.now() - started > timeoutMs) throw new Error(`the live file did not arrive within ${timeoutMs / 1000} s`);
    await sleep(5);
  }
}

async function live(tool: DaemonTool, run: RunDirs, o: MeasureOptions): Promise<Outcome> {
  o.log(`  ${tool.name} live: base sync of tiny`);
  const { pair } = await baseSync(tool, 'tiny', run, o);
  try {
    const staging = join(run.root, 'staging');
    mkdirSync(staging, { recursive: true });
    const since = startPhase(pair);
    const trials: number[] = [];
    for (let trial = 1; trial <= o.liveTrials; trial++) {
      // Spread the trials over the phase of any periodic timer a tool may have (golden-ratio steps).
      await sleep(1_000 + 1_000 * ((trial * 0.6180339887) % 1));
      const data = liveFileBytes(trial);
      const name = `live-${trial}.bin`;
      writeFileSync(join(staging, name), data);
      const t0 = performance.now();
      renameSync(join(staging, name), join(run.a, name));
      const t1 = await waitFile(join(run.b, name), data, pair, o.timeoutMs);
      trials.push((t1 - t0) / 1000);
      o.log(`  ${tool.name} live: trial ${trial}: ${((t1 - t0) / 1000).toFixed(3)} s`);
      await waitQuiet(pair.roots, 300, 10_000);
    }
    return await withNotes(pair, { ...figures(pair, since, median(trials)), trials });
  } finally {
    await pair.stop();
  }
}

// ---------------------------------------------------------------- one-shot tools

async function oneShot(tool: OneShotTool, run: RunDirs, o: MeasureOptions): Promise<Outcome> {
  const edit = run.dataset === 'edit';
  mkdirSync(run.a, { recursive: true });
  mkdirSync(run.b, { recursive: true });
  generate(edit ? 'large' : (run.dataset as InitialDataset), run.a);
  let baseSeconds: number | undefined;
  if (edit) {
    const server = await tool.startServer(run);
    const t0 = performance.now();
    await tool.push(run);
    baseSeconds = (performance.now() - t0) / 1000;
    await server.stop();
    applyEdit(run.a);
  }
  const ref = reference(run.a);
  const server = await tool.startServer(run);
  let client: OneShotUsage;
  let seconds: number;
  const bytes0 = loopbackBytesSent(server.pid) ?? 0;
  try {
    coldCache(o);
    o.log(`  ${tool.name} ${run.dataset}: timing`);
    const t0 = performance.now();
    client = await tool.push(run);
    seconds = (performance.now() - t0) / 1000;
  } catch (e) {
    await server.stop();
    throw e;
  }
  const bytes = loopbackBytesSent(server.pid);
  const serverUsage = await server.stop();
  const check = reference(run.b);
  if (check.digest !== ref.digest) throw new Error('B is not identical to A after the transfer');
  return {
    seconds, bytesSent: bytes === null ? null : bytes - bytes0,
    peakRssMb: Math.max(client.peakRssMb, serverUsage.peakRssMb), peakRssMbA: client.peakRssMb, peakRssMbB: serverUsage.peakRssMb,
    cpuSeconds: client.cpuSeconds + serverUsage.cpuSeconds, cpuSecondsA: client.cpuSeconds, cpuSecondsB: serverUsage.cpuSeconds,
    ...(baseSeconds !== undefined ? { baseSeconds } : {}),
  };
}
