/** `ploppy status [PATH]`: every file this host knows and its transfer state, with a summary line. */
import type { CommandModule } from 'yargs';
import { callControl } from '../../daemon/control.js';
import { resolveNetwork } from '../home.js';
import { withHome, type HomeArgs } from '../options.js';
import { handled } from '../render.js';
import { formatTable } from '../table.js';
import type { StatusRow, StatusSummary, StatusView } from '../../projections/views.js';

export interface StatusReport extends StatusView {
  scanning: { filesDone: number; bytesDone: number } | null;
}

type Args = HomeArgs & { path?: string; 'as-of'?: string; all: boolean; watch: boolean };

const watchIntervalMs = 250;
const barWidth = 30;

/** One progress line: the scan while it runs, then the sync's blocks. */
export function progressLine(r: StatusReport): string {
  if (r.scanning !== null) return `scanning: ${r.scanning.filesDone} files, ${(r.scanning.bytesDone / 1048576).toFixed(1)} MiB hashed`;
  const active = r.rows.filter((row) => row.state === 'downloading' || row.state === 'waiting for a source');
  const done = active.reduce((n, row) => n + row.blocksDone, 0);
  const total = active.reduce((n, row) => n + row.blocksTotal, 0);
  const fraction = total === 0 ? 1 : done / total;
  const filled = Math.round(fraction * barWidth);
  return `syncing: [${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}] ${(fraction * 100).toFixed(0)}%  ${active.length} files, ${done}/${total} blocks`;
}

const busy = (r: StatusReport): boolean => r.scanning !== null || r.summary.downloading > 0 || r.summary.waiting > 0;

/** Redraw a progress line until the initial scan and every transfer are done. */
async function watch(fetch: () => Promise<StatusReport>): Promise<StatusReport> {
  const tty = process.stdout.isTTY === true;
  for (;;) {
    const r = await fetch();
    if (!busy(r)) {
      if (tty) process.stdout.write('\r\x1b[K');
      return r;
    }
    process.stdout.write(tty ? `\r\x1b[K${progressLine(r)}` : `${progressLine(r)}\n`);
    await new Promise((resolve) => setTimeout(resolve, tty ? watchIntervalMs : watchIntervalMs * 4));
  }
}

const stateText = (r: StatusRow): string =>
  r.state === 'downloading' ? `downloading ${r.blocksDone} of ${r.blocksTotal} blocks` : r.detail !== null ? `${r.state} (${r.detail})` : r.state;

export function summaryLine(s: StatusSummary): string {
  return `${s.files} files, ${s.inSync} in sync, ${s.downloading} downloading, ${s.waiting} waiting, ${s.failed} failed, ${s.conflicts} in conflict, ${s.deleted} deleted`;
}

const module_: CommandModule<object, Args> = {
  command: 'status [path]',
  describe: 'list the files this host knows and their transfer state',
  builder: (y) =>
    withHome(y)
      .positional('path', { type: 'string', describe: 'only this path (or what is under it)' })
      .option('as-of', { type: 'string', describe: 'show status as it was at a sequence number or ISO time' })
      .option('all', { type: 'boolean', default: false, describe: 'include deleted files' })
      .option('watch', { type: 'boolean', default: false, describe: 'show a progress display until the scan and every transfer are done, then the status' }),
  handler: handled(async (argv) => {
    const paths = resolveNetwork(argv.home, argv.name);
    const fetch = async (): Promise<StatusReport> =>
      (await callControl(paths.socket, { op: 'status', path: argv.path, asOf: argv['as-of'], all: argv.all })) as StatusReport;
    const report = argv.watch && !argv.json ? await watch(fetch) : await fetch();
    if (argv.json) {
      process.stdout.write(`${JSON.stringify(report)}\n`);
      return;
    }
    const rows = report.rows.map((r) => [r.path + (r.type === 'directory' ? '/' : ''), r.type === 'file' ? String(r.size) : '-', stateText(r)]);
    process.stdout.write(formatTable(['PATH', 'SIZE', 'STATE'], rows));
    if (busy(report)) process.stdout.write(`${progressLine(report)}\n`);
    process.stdout.write(`${summaryLine(report.summary)}\n`);
  }),
};
export default module_;
