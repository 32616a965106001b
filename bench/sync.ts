/**
 * `npm run bench -- sync [--datasets large,small,mixed,edit,live] [--tools ploppy,rsync,syncthing] [--json]`
 *
 * Two peers on one machine, side by side with rsync and Syncthing in the same
 * run: how long until B's folder is byte-identical to A's, how many bytes
 * crossed loopback, the peak RSS and the CPU seconds of each peer. Each tool
 * runs in its own network namespace that holds only loopback. How every
 * dataset is timed is in bench/sync/measure.ts; docs/BENCHMARKS.md explains
 * how to run it and holds the latest figures.
 *
 * Needs root (network namespaces, dropping the page cache). rsync and
 * Syncthing are installed with apt-get when missing (--no-install: skipped
 * instead). Scratch data goes to --work (default $BENCH_WORK or
 * /var/tmp/ploppy-bench-sync); each run needs about 2.5 GiB there.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { measure, type DatasetName, type Measurement, type Outcome, type Tool, type ToolName } from './sync/measure.js';
import { buildPloppy, ploppyTool } from './sync/ploppy.js';
import { rsyncTool } from './sync/rsync.js';
import { syncthingTool } from './sync/syncthing.js';
import { hasCommand, isRoot } from './sync/system.js';
import { judge, type Row } from './sync/targets.js';

const allDatasets: readonly DatasetName[] = ['large', 'small', 'mixed', 'edit', 'live'];
const allTools: readonly ToolName[] = ['ploppy', 'rsync', 'syncthing'];

interface Options {
  readonly datasets: DatasetName[];
  readonly tools: ToolName[];
  readonly json: boolean;
  readonly work: string;
  readonly liveTrials: number;
  readonly timeoutMs: number;
  readonly keep: boolean;
  readonly dropCaches: boolean;
  readonly watcherDelayS: number;
  readonly profileDir: string | undefined;
  readonly fromSource: boolean;
  readonly daemonNodeFlags: string[];
  readonly install: boolean;
}

function list<T extends string>(text: string, allowed: readonly T[], what: string): T[] {
  const items = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const item of items) if (!allowed.includes(item as T)) throw new Error(`unknown ${what} ${JSON.stringify(item)} (${allowed.join(', ')})`);
  return items as T[];
}

export function parse(args: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...args],
    options: {
      datasets: { type: 'string', default: allDatasets.join(',') },
      tools: { type: 'string', default: allTools.join(',') },
      json: { type: 'boolean', default: false },
      work: { type: 'string', default: process.env.BENCH_WORK ?? '/var/tmp/ploppy-bench-sync' },
      'live-trials': { type: 'string', default: '5' },
      'timeout-s': { type: 'string', default: '300' },
      keep: { type: 'boolean', default: false },
      'no-drop-caches': { type: 'boolean', default: false },
      'syncthing-watcher-delay-s': { type: 'string', default: '1' },
      profile: { type: 'string' },
      'from-source': { type: 'boolean', default: false },
      'daemon-node-flags': { type: 'string', default: '' },
      'no-install': { type: 'boolean', default: false },
    },
  });
  return {
    datasets: list(values.datasets, allDatasets, 'dataset'),
    tools: list(values.tools, allTools, 'tool'),
    json: values.json,
    work: values.work,
    liveTrials: Number(values['live-trials']),
    timeoutMs: Number(values['timeout-s']) * 1000,
    keep: values.keep,
    dropCaches: !values['no-drop-caches'],
    watcherDelayS: Number(values['syncthing-watcher-delay-s']),
    profileDir: values.profile,
    fromSource: values['from-source'],
    daemonNodeFlags: values['daemon-node-flags'].split(' ').filter((f) => f !== ''),
    install: !values['no-install'],
  };
}

function toolFor(name: ToolName, o: Options): Tool {
  switch (name) {
    case 'ploppy':
      if (o.profileDir !== undefined) mkdirSync(o.profileDir, { recursive: true });
      return ploppyTool({ fromSource: o.fromSource, nodeFlags: o.daemonNodeFlags, ...(o.profileDir !== undefined ? { profileDir: o.profileDir } : {}) });
    case 'rsync':
      return rsyncTool();
    case 'syncthing':
      return syncthingTool({ watcherDelayS: o.watcherDelayS });
  }
}

const isMeasurement = (o: Outcome | undefined): o is Measurement => o !== undefined && 'seconds' in o;

const size = (bytes: number | null): string =>
  bytes === null ? '-' : bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

function cells(dataset: DatasetName, tool: ToolName, o: Outcome): string[] {
  if (!isMeasurement(o)) return [dataset, tool, 'error' in o ? `error: ${o.error.split('\n')[0]}` : `skipped: ${o.skipped}`];
  const extra = [
    ...(o.trials !== undefined ? [`trials ${o.trials.map((t) => t.toFixed(3)).join(' ')}`] : []),
    ...(o.baseSeconds !== undefined ? [`base ${o.baseSeconds.toFixed(2)} s`] : []),
    ...(o.notes ?? []),
  ];
  return [
    dataset, tool, o.seconds.toFixed(3), size(o.bytesSent), `${o.peakRssMbA.toFixed(0)} / ${o.peakRssMbB.toFixed(0)}`,
    `${o.cpuSecondsA.toFixed(2)} / ${o.cpuSecondsB.toFixed(2)}`, extra.join('; '),
  ];
}

function table(rows: readonly string[][]): string {
  const header = ['dataset', 'tool', 'seconds', 'sent', 'peak RSS MiB A / B', 'CPU s A / B', 'notes'];
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

/** The baselines' packages (and curl, for Syncthing's REST API), installed with apt-get when missing. */
function installBaselines(tools: readonly ToolName[], log: (line: string) => void): void {
  const wanted = [
    ...(tools.includes('rsync') && !hasCommand('rsync') ? ['rsync'] : []),
    ...(tools.includes('rsync') && !hasCommand('/usr/bin/time') ? ['time'] : []),
    ...(tools.includes('syncthing') && !hasCommand('syncthing') ? ['syncthing'] : []),
    ...(tools.includes('syncthing') && !hasCommand('curl') ? ['curl'] : []),
  ];
  if (wanted.length === 0 || !hasCommand('apt-get')) return;
  log(`installing ${wanted.join(', ')} (apt-get; --no-install skips this)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  const install = update.status === 0 ? spawnSync('apt-get', ['install', '-y', '-qq', ...wanted], { stdio: 'inherit', env }) : update;
  if (install.status !== 0) log(`apt-get failed (${install.status}); those tools are skipped`);
}

/** One measurement, run again once when Syncthing lost 20 s to its connection race. */
async function measureOnce(tool: Tool, dataset: DatasetName, o: Options, log: (line: string) => void): Promise<Outcome> {
  const mo = { work: o.work, liveTrials: o.liveTrials, timeoutMs: o.timeoutMs, keep: o.keep, dropCaches: o.dropCaches, log };
  const first = await measure(tool, dataset, mo);
  if (!isMeasurement(first) || !(first.notes ?? []).some((n) => n.startsWith('helloTimeout'))) return first;
  log(`  ${tool.name} ${dataset}: hit the hello race; measuring again`);
  const second = await measure(tool, dataset, mo);
  return isMeasurement(second) ? { ...second, notes: [...(second.notes ?? []), 'measured twice: the first run hit the hello race'] } : second;
}

export async function run(args: readonly string[]): Promise<void> {
  const o = parse(args);
  if (!isRoot()) throw new Error('the sync benchmark needs root (network namespaces, drop_caches)');
  mkdirSync(o.work, { recursive: true });
  const log = (line: string): void => void process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
  if (o.install) installBaselines(o.tools, log);
  if (o.tools.includes('ploppy') && !o.fromSource) {
    log('building ploppy (tsc -p tsconfig.build.json)');
    buildPloppy(log);
  }
  const rows: Row[] = [];
  const lines: string[][] = [];
  for (const dataset of o.datasets) {
    const row: Row = { dataset };
    for (const name of o.tools) {
      log(`${dataset}: ${name}`);
      const outcome = await measureOnce(toolFor(name, o), dataset, o, log);
      row[name] = outcome;
      lines.push(cells(dataset, name, outcome));
      log(`  ${cells(dataset, name, outcome).slice(2).join(' | ')}`);
    }
    rows.push(row);
    if (o.json) process.stdout.write(`${JSON.stringify(row)}\n`);
  }
  const report = `${table(lines)}\n\n${judge(rows).join('\n')}\n`;
  (o.json ? process.stderr : process.stdout).write(`\n${report}`);
}
