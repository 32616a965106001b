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

type Args = HomeArgs & { path?: string; 'as-of'?: string; all: boolean };

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
      .option('all', { type: 'boolean', default: false, describe: 'include deleted files' }),
  handler: handled(async (argv) => {
    const paths = resolveNetwork(argv.home, argv.name);
    const report = (await callControl(paths.socket, { op: 'status', path: argv.path, asOf: argv['as-of'], all: argv.all })) as StatusReport;
    if (argv.json) {
      process.stdout.write(`${JSON.stringify(report)}\n`);
      return;
    }
    const rows = report.rows.map((r) => [r.path + (r.type === 'directory' ? '/' : ''), r.type === 'file' ? String(r.size) : '-', stateText(r)]);
    process.stdout.write(formatTable(['PATH', 'SIZE', 'STATE'], rows));
    if (report.scanning !== null) process.stdout.write(`scanning: ${report.scanning.filesDone} files, ${(report.scanning.bytesDone / 1048576).toFixed(1)} MiB hashed so far\n`);
    process.stdout.write(`${summaryLine(report.summary)}\n`);
  }),
};
export default module_;
