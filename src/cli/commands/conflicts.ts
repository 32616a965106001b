/**
 * `ploppy conflicts`: unresolved conflicts, with both versions and the rule
 * that chose the winner. `--json` adds, per conflict, every concurrent version
 * (author, vector, content hash) and the log events behind each
 * (src/audit/conflicts.ts). Works offline on the log when no daemon runs.
 */
import type { CommandModule } from 'yargs';
import { conflictsFromLog, type ConflictDetail } from '../../audit/index.js';
import { callControl } from '../../daemon/control.js';
import type { ConflictEntry } from '../../projections/state.js';
import { conflictsView } from '../../projections/views.js';
import { resolveNetwork } from '../home.js';
import { withHome, type HomeArgs } from '../options.js';
import { handled } from '../render.js';
import { formatTable } from '../table.js';
import { withLogOrDaemon } from './explain.js';

const module_: CommandModule<object, HomeArgs> = {
  command: 'conflicts',
  describe: 'list unresolved conflicts: the path, the kept copy, both versions and the rule that chose the winner',
  builder: (y) => withHome(y),
  handler: handled(async (argv) => {
    const paths = resolveNetwork(argv.home, argv.name);
    const details = argv.json;
    const conflicts = await withLogOrDaemon<(ConflictEntry | ConflictDetail)[]>(
      paths,
      async (log) => {
        const entries = conflictsView(await log.loadState());
        return details ? conflictsFromLog(log, entries) : entries;
      },
      async () => (await callControl(paths.socket, { op: 'conflicts', details })) as ConflictEntry[],
    );
    if (argv.json) {
      process.stdout.write(`${JSON.stringify(conflicts)}\n`);
      return;
    }
    if (conflicts.length === 0) {
      process.stdout.write('no conflicts\n');
      return;
    }
    process.stdout.write(
      formatTable(
        ['PATH', 'CONFLICT COPY', 'WINNER', 'OTHER', 'RULE'],
        conflicts.map((c) => [c.path, c.copyPath, c.winner.author.slice(0, 8), c.loser.author.slice(0, 8), c.rule]),
      ),
    );
  }),
};
export default module_;
