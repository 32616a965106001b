/** `ploppy diff --from A [--to B]`: files added, changed and deleted on this peer between two points of its log. */
import type { CommandModule } from 'yargs';
import { diffFromLog, diffText, type StateDiff } from '../../audit/index.js';
import { callControl } from '../../daemon/control.js';
import { resolveNetwork } from '../home.js';
import { withHome, type HomeArgs } from '../options.js';
import { emit, handled } from '../render.js';
import { withLogOrDaemon } from './explain.js';

type Args = HomeArgs & { from: string; to?: string };

const module_: CommandModule<object, Args> = {
  command: 'diff',
  describe: 'list the files added, changed and deleted between two points of the log (sequence numbers or ISO times)',
  builder: (y) =>
    withHome(y)
      .option('from', { type: 'string', demandOption: true, describe: 'the earlier point: a sequence number or an ISO time' })
      .option('to', { type: 'string', describe: 'the later point (default: now)' }) as never,
  handler: handled(async (argv: Args) => {
    const paths = resolveNetwork(argv.home, argv.name);
    const d = await withLogOrDaemon<StateDiff>(
      paths,
      (log) => diffFromLog(log, String(argv.from), argv.to === undefined ? undefined : String(argv.to)),
      async () => (await callControl(paths.socket, { op: 'diff', from: String(argv.from), ...(argv.to === undefined ? {} : { to: String(argv.to) }) })) as StateDiff,
    );
    emit(argv.json, d, () => diffText(d));
  }),
};
export default module_;
