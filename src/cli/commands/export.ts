/**
 * `ploppy export [--from SEQ] > peer.ndjson`: the log as NDJSON with its hash
 * chain, one recorded event per line (src/audit/ndjson.ts). A summary with
 * the projection hash goes to stderr, so stdout is only the log.
 */
import { once } from 'node:events';
import type { CommandModule } from 'yargs';
import { exportFromLog, type ExportSummary } from '../../audit/index.js';
import { PloppyError } from '../../core/errors.js';
import { callControl } from '../../daemon/control.js';
import { resolveNetwork } from '../home.js';
import { withHome, type HomeArgs } from '../options.js';
import { handled } from '../render.js';
import { withLogOrDaemon } from './explain.js';

type Args = HomeArgs & { from: number };

/** Write a line to stdout, waiting when the pipe is full (a long log must not pile up in memory). */
async function writeLine(line: string): Promise<void> {
  if (!process.stdout.write(`${line}\n`)) await once(process.stdout, 'drain');
}

const module_: CommandModule<object, Args> = {
  command: 'export',
  describe: 'write the log as NDJSON (one recorded event per line, with its hash chain) to stdout',
  builder: (y) => withHome(y).option('from', { type: 'number', default: 1, describe: 'start at this sequence number' }) as never,
  handler: handled(async (argv: Args) => {
    if (!Number.isSafeInteger(argv.from) || argv.from < 1) throw new PloppyError('USAGE', `--from must be a sequence number >= 1, got ${argv.from}`);
    const paths = resolveNetwork(argv.home, argv.name);
    const summary = await withLogOrDaemon<ExportSummary>(
      paths,
      (log) => exportFromLog(log, argv.from, writeLine),
      async () => (await callControl(paths.socket, { op: 'export', from: argv.from }, (line) => void process.stdout.write(`${String(line)}\n`))) as ExportSummary,
    );
    const range = summary.firstSeq === null ? 'no events' : `seq ${summary.firstSeq}..${summary.head}`;
    process.stderr.write(argv.json
      ? `${JSON.stringify(summary)}\n`
      : `exported ${summary.events} events (${range}), head hash ${summary.headHash ?? '-'}\nprojection hash at seq ${summary.head}: ${summary.projectionHash}\n`);
  }),
};
export default module_;
