/** `ploppy conflicts`: unresolved conflicts, with both versions and the rule that chose the winner. */
import type { CommandModule } from 'yargs';
import { callControl } from '../../daemon/control.js';
import type { ConflictEntry } from '../../projections/state.js';
import { resolveNetwork } from '../home.js';
import { withHome, type HomeArgs } from '../options.js';
import { handled } from '../render.js';
import { formatTable } from '../table.js';

const module_: CommandModule<object, HomeArgs> = {
  command: 'conflicts',
  describe: 'list unresolved conflicts: the path, the kept copy, both versions and the rule that chose the winner',
  builder: (y) => withHome(y),
  handler: handled(async (argv) => {
    const paths = resolveNetwork(argv.home, argv.name);
    const conflicts = (await callControl(paths.socket, { op: 'conflicts' })) as (ConflictEntry & Record<string, unknown>)[];
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
